/** Command-line parsing: node:util's parseArgs, which Bun, Deno and Node all provide. */
export { parseArgs } from "node:util";
