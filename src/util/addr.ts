/** Splits "host:port" or "[v6]:port"; throws RangeError naming the bad address. */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(addr) ?? /^([^:\[\]\s]+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new RangeError(`Address "${addr.slice(0, 80)}" is not host:port`);
  return { host: m[1], port };
}
