import {
  BolideError,
  FrameError,
  RemotingClosedError,
  RemotingTimeoutError,
  RemotingTooManyRequestsError,
} from "../common/errors.ts";
import { Limits } from "../common/limits.ts";
import { ResponseCode } from "../common/response_code.ts";
import type { TcpConn } from "../platform/tcp.ts";
import { encodeFrame, FrameDecoder } from "../protocol/frame_codec.ts";
import {
  createResponse,
  FLAG_ONEWAY,
  FLAG_RESPONSE,
  LANGUAGE_NODE_JS,
  PROTOCOL_VERSION,
  type RemotingCommand,
} from "../protocol/remoting_command.ts";
import { requestCodeName } from "../protocol/request_code.ts";
import { SerializeType } from "../protocol/serialize_type.ts";
import { concatBytes } from "../util/bytes.ts";
import { type Deferred, deferred } from "../util/deferred.ts";
import { MinHeap } from "../util/min_heap.ts";

/** Handles one request code. Return the response (opaque and flag are filled in), or throw. */
export type Processor = (
  request: RemotingCommand,
  ctx: RequestContext,
) => RemotingCommand | void | Promise<RemotingCommand | void>;

export interface RequestContext {
  readonly connection: RemotingConnection;
}

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxHeaderBytes: number;
  maxPendingRequests: number;
  maxInFlightRequests: number;
  maxWriteBacklogBytes: number;
  coalesceWriteBytes: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxFrameBytes: Limits.maxFrameBytes,
  maxHeaderBytes: Limits.maxHeaderBytes,
  maxPendingRequests: Limits.maxPendingRequestsPerConnection,
  maxInFlightRequests: Limits.maxInFlightRequestsPerConnection,
  maxWriteBacklogBytes: Limits.maxWriteBacklogBytes,
  coalesceWriteBytes: Limits.coalesceWriteBytes,
};

export interface ConnectionOptions {
  processors: ReadonlyMap<number, Processor>;
  defaultProcessor?: Processor;
  limits?: Partial<ConnectionLimits>;
  /** Serialize type of the requests this side sends. */
  serializeType?: number;
  /** Called once when a frame error or a failing processor deserves a log line. */
  onProtocolError?(conn: RemotingConnection, err: Error): void;
}

interface Pending {
  deferred: Deferred<RemotingCommand>;
  deadline: number;
  timeoutMs: number;
  code: number;
}

/**
 * One socket speaking the remoting protocol in both directions: it answers requests with the
 * registered processors (concurrently, answered in any order) and sends its own requests,
 * matching responses by opaque. Writes that are ready together go out as one write.
 */
export class RemotingConnection {
  readonly remoteAddr: string;
  readonly localAddr: string;
  readonly #tcp: TcpConn;
  readonly #opts: ConnectionOptions;
  readonly #limits: ConnectionLimits;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #decoder: FrameDecoder;
  readonly #serializeType: number;

  #nextOpaque = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #deadlines = new MinHeap<number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writingBytes = 0;
  #flushScheduled = false;
  #writing = false;
  #drainWaiters: Deferred<void>[] = [];
  #idleWaiters: Deferred<void>[] = [];

  #inFlight = 0;
  #capacityWaiter: Deferred<void> | undefined;
  #closed = false;
  #closeReason = "";
  readonly #closeListeners: ((reason: string) => void)[] = [];
  readonly #closedPromise = deferred<void>();

  constructor(tcp: TcpConn, opts: ConnectionOptions) {
    this.#tcp = tcp;
    this.#opts = opts;
    this.#limits = { ...defaultConnectionLimits, ...opts.limits };
    this.#serializeType = opts.serializeType ?? SerializeType.CBOR;
    this.remoteAddr = tcp.remoteAddr;
    this.localAddr = tcp.localAddr;
    this.#writer = tcp.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.#decoder = new FrameDecoder(this.#limits);
    void this.#readLoop();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection has closed, for any reason. */
  get closed(): Promise<void> {
    return this.#closedPromise.promise;
  }

  get pendingRequests(): number {
    return this.#pending.size;
  }

  get inFlightRequests(): number {
    return this.#inFlight;
  }

  /** Bytes encoded but not yet handed to the socket. */
  get writeBacklogBytes(): number {
    return this.#queuedBytes + this.#writingBytes;
  }

  readonly #peerEndListeners: (() => void)[] = [];

  /** Called when the peer ends its side of the socket (it sends nothing more). */
  onPeerEnd(listener: () => void): void {
    this.#peerEndListeners.push(listener);
  }

  onClose(listener: (reason: string) => void): void {
    if (this.#closed) listener(this.#closeReason);
    else this.#closeListeners.push(listener);
  }

  /** Sends a request and resolves with its response, or rejects with a typed remoting error. */
  invoke(request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    if (this.#closed) return Promise.reject(new RemotingClosedError(this.remoteAddr, this.#closeReason));
    if (this.#pending.size >= this.#limits.maxPendingRequests) {
      return Promise.reject(new RemotingTooManyRequestsError(this.remoteAddr, this.#pending.size));
    }
    const deadline = Date.now() + timeoutMs;
    if (this.writeBacklogBytes > this.#limits.maxWriteBacklogBytes) {
      return this.#waitDrain(deadline, request.code, timeoutMs).then(() => this.#send(request, deadline, timeoutMs));
    }
    // Not an async function: the hot path returns the response promise itself, with no extra hops.
    return this.#send(request, deadline, timeoutMs);
  }

  #send(request: RemotingCommand, deadline: number, timeoutMs: number): Promise<RemotingCommand> {
    if (this.#closed) return Promise.reject(new RemotingClosedError(this.remoteAddr, this.#closeReason));
    const opaque = this.#takeOpaque();
    let parts: Uint8Array[];
    try {
      parts = encodeFrame(this.#outgoing(request, opaque, 0), this.#serializeType, this.#limits);
    } catch (err) {
      return Promise.reject(err);
    }
    const d = deferred<RemotingCommand>();
    this.#pending.set(opaque, { deferred: d, deadline, timeoutMs, code: request.code });
    this.#trackDeadline(opaque, deadline);
    this.#enqueue(parts);
    return d.promise;
  }

  /** Sends a request that gets no response. Resolves once it is queued for the socket. */
  async invokeOneway(request: RemotingCommand, timeoutMs: number = Limits.defaultInvokeTimeoutMs): Promise<void> {
    if (this.#closed) throw new RemotingClosedError(this.remoteAddr, this.#closeReason);
    if (this.writeBacklogBytes > this.#limits.maxWriteBacklogBytes) {
      await this.#waitDrain(Date.now() + timeoutMs, request.code, timeoutMs);
    }
    this.#enqueue(encodeFrame(this.#outgoing(request, this.#takeOpaque(), FLAG_ONEWAY), this.#serializeType, this.#limits));
  }

  close(reason = "closed locally"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#deadlines.clear();
    const err = new RemotingClosedError(this.remoteAddr, reason);
    for (const p of this.#pending.values()) p.deferred.reject(err);
    this.#pending.clear();
    for (const w of this.#drainWaiters) w.reject(err);
    this.#drainWaiters = [];
    for (const w of this.#idleWaiters) w.resolve();
    this.#idleWaiters = [];
    this.#capacityWaiter?.resolve();
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#tcp.close();
    for (const l of this.#closeListeners) {
      try {
        l(reason);
      } catch { /* a listener's failure must not stop the others */ }
    }
    this.#closedPromise.resolve();
  }

  /** Waits (up to `timeoutMs`) for requests being processed and queued writes, then closes. */
  async drainAndClose(timeoutMs: number, reason = "shutting down"): Promise<void> {
    if (!this.#closed && !this.#idle()) {
      const d = deferred<void>();
      this.#idleWaiters.push(d);
      const timer = setTimeout(() => d.resolve(), timeoutMs);
      await d.promise;
      clearTimeout(timer);
    }
    this.close(reason);
  }

  #idle(): boolean {
    return this.#inFlight === 0 && this.writeBacklogBytes === 0 && !this.#writing;
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0 || !this.#idle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w.resolve();
  }

  #outgoing(request: RemotingCommand, opaque: number, extraFlag: number): RemotingCommand {
    return {
      ...request,
      opaque,
      flag: (request.flag & ~FLAG_RESPONSE) | extraFlag,
      language: request.language ?? LANGUAGE_NODE_JS,
      version: request.version ?? PROTOCOL_VERSION,
    };
  }

  #takeOpaque(): number {
    const o = this.#nextOpaque;
    this.#nextOpaque = o >= 0x7fffffff ? 1 : o + 1;
    return o;
  }

  // ---- reading -------------------------------------------------------------------------------

  async #readLoop(): Promise<void> {
    const reader = this.#tcp.readable.getReader();
    let reason = "closed by peer";
    let cleanEnd = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#closed) break;
        this.#decoder.push(value, this.#onCommand);
        // Stop reading while too much is in progress: the peer's socket buffers fill and it slows down.
        while (
          !this.#closed &&
          (this.#inFlight >= this.#limits.maxInFlightRequests ||
            this.writeBacklogBytes > this.#limits.maxWriteBacklogBytes)
        ) {
          this.#capacityWaiter = deferred<void>();
          await this.#capacityWaiter.promise;
        }
      }
      this.#decoder.end();
      cleanEnd = true;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
      if (err instanceof FrameError) this.#opts.onProtocolError?.(this, err);
    } finally {
      reader.releaseLock();
    }
    // The peer ended its side after whole frames: answer what it asked before closing ours.
    // Listeners hear of it first, so requests held for a future event can be answered now.
    if (cleanEnd) {
      for (const l of this.#peerEndListeners) {
        try {
          l();
        } catch { /* a listener's failure must not stop the close */ }
      }
      await this.drainAndClose(Limits.defaultInvokeTimeoutMs, reason);
    }
    else this.close(reason);
  }

  readonly #onCommand = (cmd: RemotingCommand): void => {
    if ((cmd.flag & FLAG_RESPONSE) !== 0) {
      const p = this.#pending.get(cmd.opaque);
      if (p === undefined) return; // late answer to a request that already timed out
      this.#pending.delete(cmd.opaque);
      p.deferred.resolve(cmd);
      return;
    }
    this.#dispatch(cmd);
  };

  #dispatch(req: RemotingCommand): void {
    const processor = this.#opts.processors.get(req.code) ?? this.#opts.defaultProcessor;
    const oneway = (req.flag & FLAG_ONEWAY) !== 0;
    if (processor === undefined) {
      if (!oneway) {
        this.#respond(req, createResponse(
          ResponseCode.REQUEST_CODE_NOT_SUPPORTED,
          `request code ${req.code} not supported`,
        ));
      }
      return;
    }
    this.#inFlight++;
    let result: RemotingCommand | void | Promise<RemotingCommand | void>;
    try {
      result = processor(req, { connection: this });
    } catch (err) {
      this.#finish(req, oneway, undefined, err);
      return;
    }
    if (result instanceof Promise) {
      result.then((r) => this.#finish(req, oneway, r, undefined), (err) => this.#finish(req, oneway, undefined, err));
    } else {
      this.#finish(req, oneway, result, undefined);
    }
  }

  #finish(req: RemotingCommand, oneway: boolean, result: RemotingCommand | void, err: unknown): void {
    this.#inFlight--;
    if (this.#capacityWaiter && this.#inFlight < this.#limits.maxInFlightRequests) this.#wake();
    if (this.#closed || oneway) {
      this.#notifyIdle();
      return;
    }
    if (err !== undefined) {
      this.#respond(req, errorResponse(err, req.code));
      if (!(err instanceof BolideError)) this.#opts.onProtocolError?.(this, err as Error);
      return;
    }
    this.#respond(req, result ?? createResponse(ResponseCode.SUCCESS));
  }

  #respond(req: RemotingCommand, resp: RemotingCommand): void {
    resp.opaque = req.opaque;
    resp.flag |= FLAG_RESPONSE;
    const type = req.serializeType ?? this.#serializeType;
    let parts: Uint8Array[];
    try {
      parts = encodeFrame(resp, type, this.#limits);
    } catch (err) {
      parts = encodeFrame(
        { ...errorResponse(err, req.code), opaque: req.opaque, flag: FLAG_RESPONSE },
        type,
        this.#limits,
      );
    }
    this.#enqueue(parts);
  }

  // ---- writing -------------------------------------------------------------------------------

  #enqueue(parts: Uint8Array[]): void {
    if (this.#closed) return;
    for (const p of parts) {
      this.#queue.push(p);
      this.#queuedBytes += p.byteLength;
    }
    if (!this.#flushScheduled && !this.#writing) {
      this.#flushScheduled = true;
      void this.#flush();
    }
  }

  readonly #flush = async (): Promise<void> => {
    this.#flushScheduled = false;
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const parts = this.#queue;
        this.#writingBytes = this.#queuedBytes;
        this.#queue = [];
        this.#queuedBytes = 0;
        for (const buf of coalesce(parts, this.#limits.coalesceWriteBytes)) {
          await this.#writer.write(buf);
        }
        this.#writingBytes = 0;
        this.#notifyDrain();
      }
    } catch (err) {
      this.close(`write failed: ${(err as Error).message}`);
    } finally {
      this.#writing = false;
      this.#writingBytes = 0;
      this.#notifyIdle();
    }
  };

  #notifyDrain(): void {
    if (this.writeBacklogBytes > this.#limits.maxWriteBacklogBytes) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
    this.#wake();
  }

  #wake(): void {
    const w = this.#capacityWaiter;
    this.#capacityWaiter = undefined;
    w?.resolve();
  }

  async #waitDrain(deadline: number, code: number, timeoutMs: number): Promise<void> {
    const d = deferred<void>();
    this.#drainWaiters.push(d);
    const timer = setTimeout(
      () => d.reject(new RemotingTimeoutError(this.remoteAddr, timeoutMs, `${requestCodeName(code)} (waiting for the socket to drain)`)),
      Math.max(0, deadline - Date.now()),
    );
    try {
      await d.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- timeouts: one timer for the earliest deadline -----------------------------------------

  #trackDeadline(opaque: number, deadline: number): void {
    // Answered requests leave stale heap entries; rebuild when they dominate so memory stays bounded.
    if (this.#deadlines.size > 2 * this.#pending.size + 1024) {
      this.#deadlines.clear();
      for (const [o, p] of this.#pending) this.#deadlines.push(p.deadline, o);
    }
    this.#deadlines.push(deadline, opaque);
    if (deadline < this.#timerAt) this.#arm(deadline);
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#expire, Math.max(0, at - Date.now()));
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (;;) {
      const at = this.#deadlines.peekKey();
      if (at === undefined) return;
      if (at > now) {
        this.#arm(at);
        return;
      }
      const opaque = this.#deadlines.pop()!;
      const p = this.#pending.get(opaque);
      if (p !== undefined && p.deadline <= now) {
        this.#pending.delete(opaque);
        p.deferred.reject(new RemotingTimeoutError(this.remoteAddr, p.timeoutMs, requestCodeName(p.code)));
      }
    }
  };
}

/** A processor's failure as a response: its own code when it is a BolideError, SYSTEM_ERROR otherwise. */
export function errorResponse(err: unknown, requestCode: number): RemotingCommand {
  if (err instanceof BolideError) return createResponse(err.code, err.message);
  const e = err instanceof Error ? err : new Error(String(err));
  return createResponse(ResponseCode.SYSTEM_ERROR, `${requestCodeName(requestCode)} failed: ${e.name}: ${e.message}`);
}

/** Groups small parts into buffers of up to `limit` bytes (one copy); a larger part goes alone, uncopied. */
function coalesce(parts: Uint8Array[], limit: number): Uint8Array[] {
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
