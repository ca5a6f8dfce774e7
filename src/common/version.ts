/** Bolide's version, kept in step with package.json by scripts/check_imports.ts. */
export const VERSION = "0.1.0";
