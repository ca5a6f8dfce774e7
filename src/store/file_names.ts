/** Segment files are named by their start offset, 20 digits, so names sort as offsets do. */
export const offsetName = (offset: number): string => String(offset).padStart(20, "0");

export function parseOffsetName(name: string): number | undefined {
  return /^\d{20}$/.test(name) ? Number(name) : undefined;
}
