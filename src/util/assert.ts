/** Invariant checks inside the engine (not test assertions): a failure is a bug in Bolide. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`Invariant violated: ${message}`);
}
