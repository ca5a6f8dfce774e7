/**
 * Java's String.hashCode over UTF-16 code units, as a signed 32-bit int. RocketMQ stores it as
 * the ConsumeQueue tag code and the IndexFile key hash, so ours must match to the bit.
 * `seed` continues a hash: javaStringHash(b, javaStringHash(a)) === javaStringHash(a + b).
 */
export function javaStringHash(s: string, seed = 0): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** abs() of a Java hash as RocketMQ's index uses it: Integer.MIN_VALUE (whose abs overflows) maps to 0. */
export function positiveHash(h: number): number {
  const a = Math.abs(h);
  return a === 2 ** 31 ? 0 : a;
}
