#!/usr/bin/env bun
/**
 * The one Bolide binary: `bolide namesrv`, `bolide start`, and client commands.
 * Run `bolide --help` for the list. Output meant for programs goes to stdout; logs go to stderr.
 */
import { main } from "./src/cli/main.ts";

await main();
