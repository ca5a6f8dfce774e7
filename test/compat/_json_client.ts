import net from "node:net";

/** One answer as it came off the wire: its serialize-type byte, its header as parsed JSON, its body. */
export interface RawAnswer {
  serializeType: number;
  header: { code: number; flag: number; opaque: number; remark?: string; extFields?: Record<string, unknown> | null; [k: string]: unknown };
  body: Buffer;
}

/**
 * A RocketMQ remoting client at the byte level, as a Java client frames its JSON requests: no
 * Bolide code between the test and the wire, so what it checks is what a RocketMQ client reads.
 * An answer whose header is not JSON fails the request.
 */
export class JsonRemoting {
  readonly #socket: net.Socket;
  #buf = Buffer.alloc(0);
  #opaque = 1;
  readonly #waiting = new Map<number, { resolve(a: RawAnswer): void; reject(e: Error): void }>();
  /** Every frame that came without a request waiting for it (server requests, stray answers). */
  readonly unsolicited: RawAnswer[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (d: Buffer) => this.#read(d));
    socket.on("close", () => {
      for (const w of this.#waiting.values()) w.reject(new Error("connection closed"));
      this.#waiting.clear();
    });
  }

  static connect(addr: string): Promise<JsonRemoting> {
    const [host, port] = addr.split(":");
    return new Promise((resolve, reject) => {
      const s = net.connect(Number(port), host, () => resolve(new JsonRemoting(s)));
      s.once("error", reject);
    });
  }

  /** Sends a request (`flag` 0 unless told) and waits for its answer, up to `timeoutMs`. */
  request(code: number, extFields: Record<string, unknown>, body?: Uint8Array, flag = 0, timeoutMs = 5_000): Promise<RawAnswer> {
    const opaque = this.#opaque++;
    this.send({ code, language: "JAVA", version: 395, opaque, flag, extFields }, body);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(opaque);
        reject(new Error(`no answer to code ${code} (opaque ${opaque}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(opaque, {
        resolve: (a) => (clearTimeout(timer), resolve(a)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** Writes one frame with a JSON header as given. */
  send(header: Record<string, unknown>, body: Uint8Array = new Uint8Array(0)): void {
    const h = Buffer.from(JSON.stringify(header));
    const f = Buffer.alloc(8 + h.length + body.byteLength);
    f.writeInt32BE(4 + h.length + body.byteLength, 0);
    f.writeInt32BE(h.length, 4); // serialize type 0 (JSON) in the top byte
    h.copy(f, 8);
    Buffer.from(body).copy(f, 8 + h.length);
    this.#socket.write(f);
  }

  #read(d: Buffer): void {
    this.#buf = Buffer.concat([this.#buf, d]);
    while (this.#buf.length >= 4 && this.#buf.length >= 4 + this.#buf.readInt32BE(0)) {
      const total = this.#buf.readInt32BE(0);
      const word = this.#buf.readUInt32BE(4);
      const type = word >>> 24;
      const headerLen = word & 0xffffff;
      const headerBytes = this.#buf.subarray(8, 8 + headerLen);
      const body = Buffer.from(this.#buf.subarray(8 + headerLen, 4 + total));
      this.#buf = this.#buf.subarray(4 + total);
      let header: RawAnswer["header"];
      try {
        header = JSON.parse(headerBytes.toString("utf8"));
      } catch (err) {
        const e = new Error(`a header that is not JSON (serialize type ${type}): ${(err as Error).message}`);
        for (const w of this.#waiting.values()) w.reject(e);
        this.#waiting.clear();
        continue;
      }
      const answer = { serializeType: type, header, body };
      const w = (header.flag & 1) === 1 ? this.#waiting.get(header.opaque) : undefined;
      if (w) {
        this.#waiting.delete(header.opaque);
        w.resolve(answer);
      } else this.unsolicited.push(answer);
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}
