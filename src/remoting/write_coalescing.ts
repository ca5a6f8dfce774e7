import { concatBytes } from "../util/bytes.ts";

/** Groups small parts into buffers of up to `limit` bytes (one copy); a larger part goes alone, uncopied. */
export function coalesce(parts: Uint8Array[], limit: number): Uint8Array[] {
  if (parts.length === 1) return parts;
  const out: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let groupBytes = 0;
  const close = () => {
    if (group.length === 1) out.push(group[0]);
    else if (group.length > 1) out.push(concatBytes(group, groupBytes));
    group = [];
    groupBytes = 0;
  };
  for (const p of parts) {
    if (p.byteLength >= limit) {
      close();
      out.push(p);
      continue;
    }
    if (groupBytes + p.byteLength > limit) close();
    group.push(p);
    groupBytes += p.byteLength;
  }
  close();
  return out;
}
