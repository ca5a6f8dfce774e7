/** Runs `fn`; true when it returned, false when it threw (the caller keeps its state for a later try). */
export function succeeded(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}
