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
import { type Deferred, deferred } from "../util/deferred.ts";
import type { ConnectionBudget } from "./connection_budget.ts";
import { PendingRequests } from "./pending_requests.ts";
import { coalesce } from "./write_coalescing.ts";

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
  /** A frame whose length arrived must be complete within this (checked by `checkDeadlines`). */
  frameReadTimeoutMs: number;
  /** Queued answers that make no progress this long close the connection. */
  writeStallTimeoutMs: number;
  /** The same, while the shared write budget is exhausted. */
  writeStallUnderPressureMs: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxFrameBytes: Limits.maxFrameBytes,
  maxHeaderBytes: Limits.maxHeaderBytes,
  maxPendingRequests: Limits.maxPendingRequestsPerConnection,
  maxInFlightRequests: Limits.maxInFlightRequestsPerConnection,
  maxWriteBacklogBytes: Limits.maxWriteBacklogBytes,
  coalesceWriteBytes: Limits.coalesceWriteBytes,
  frameReadTimeoutMs: Limits.frameReadTimeoutMs,
  writeStallTimeoutMs: Limits.writeStallTimeoutMs,
  writeStallUnderPressureMs: Limits.writeStallUnderPressureMs,
};

export interface ConnectionOptions {
  processors: ReadonlyMap<number, Processor>;
  defaultProcessor?: Processor;
  limits?: Partial<ConnectionLimits>;
  /** Serialize type of the requests this side sends (CBOR by default). */
  serializeType?: number;
  /**
   * Send requests in the serialize type of the last request read (a server's connections): a
   * RocketMQ client speaking JSON cannot read a CBOR NOTIFY_CONSUMER_IDS_CHANGED, and closes the
   * socket when it gets one.
   */
  followPeerSerializeType?: boolean;
  /** Called once when a frame error or a failing processor deserves a log line. */
  onProtocolError?(conn: RemotingConnection, err: Error): void;
  /** Memory shared with the other connections of a server (a client's connections have none). */
  budget?: ConnectionBudget;
  /** Called when a limit closes the connection, with the reason, for one log line. */
  onLimitClose?(conn: RemotingConnection, reason: string): void;
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
  #serializeType: number;

  #nextOpaque = 1;
  readonly #pending: PendingRequests;

  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writingBytes = 0;
  #flushScheduled = false;
  #writing = false;
  #drainWaiters: Deferred<void>[] = [];
  #idleWaiters: Deferred<void>[] = [];

  #inFlight = 0;
  #capacityWaiter: Deferred<void> | undefined;
  /** Requests read while the connection had no capacity: dispatched one by one as it returns. */
  #held: RemotingCommand[] = [];
  readonly #budget: ConnectionBudget | undefined;
  /** Incomplete-frame bytes charged to the budget. */
  #frameCharged = 0;
  /** When the incomplete frame began (0: none), the last read, the last write progress. */
  #frameSince = 0;
  /** A frame was completed during the current read (so an incomplete one is a new frame). */
  #frameEnded = false;
  #lastReadAt = Date.now();
  #lastWriteAt = Date.now();
  #closed = false;
  #closeReason = "";
  readonly #closeListeners: ((reason: string) => void)[] = [];
  readonly #closedPromise = deferred<void>();

  constructor(tcp: TcpConn, opts: ConnectionOptions) {
    this.#tcp = tcp;
    this.#opts = opts;
    this.#limits = { ...defaultConnectionLimits, ...opts.limits };
    this.#serializeType = opts.serializeType ?? SerializeType.CBOR;
    this.#budget = opts.budget;
    this.#pending = new PendingRequests(tcp.remoteAddr);
    this.remoteAddr = tcp.remoteAddr;
    this.localAddr = tcp.localAddr;
    this.#writer = tcp.writable.getWriter();
    this.#writer.closed.catch(() => {});
    this.#decoder = new FrameDecoder(this.#limits);
    void this.#readLoop();
  }

  /** The serialize type of the requests this side sends (a server's: the peer's last one). */
  get serializeType(): number {
    return this.#serializeType;
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

  /** Bytes encoded but not yet handed to the socket, and answers reserved but not yet queued. */
  get writeBacklogBytes(): number {
    return this.#queuedBytes + this.#writingBytes + this.#reservedBytes;
  }

  readonly #reserved = new Map<RemotingCommand, number>();
  #reservedBytes = 0;

  /**
   * Counts `bytes` of the answer to `req` in the backlog from now until it is queued: a
   * processor that reads a large answer after an await reserves it, so answers produced
   * together see each other and stop at the limit.
   */
  reserveAnswer(req: RemotingCommand, bytes: number): void {
    if (this.#closed) return;
    this.#reserved.set(req, (this.#reserved.get(req) ?? 0) + bytes);
    this.#reservedBytes += bytes;
    this.#budget?.chargeBacklog(bytes);
  }

  #releaseReserved(req: RemotingCommand): void {
    if (this.#reserved.size === 0) return;
    const bytes = this.#reserved.get(req);
    if (bytes === undefined) return;
    this.#reserved.delete(req);
    this.#reservedBytes -= bytes;
    this.#budget?.chargeBacklog(-bytes);
  }

  /** Bytes held for an incomplete frame. */
  get bufferedFrameBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  /** When something was last read from the peer (ms since the epoch). */
  get lastReadAt(): number {
    return this.#lastReadAt;
  }

  /**
   * Answers may be queued: this connection's backlog and the server's shared one are within
   * their limits. A producer of large answers (a pull) waits for this before it reads.
   */
  get writable(): boolean {
    return this.writeBacklogBytes <= this.#limits.maxWriteBacklogBytes && !this.#budget?.writeExhausted;
  }

  /**
   * Resolves once the connection was writable or closed (a stalled peer is closed by
   * `checkDeadlines`). Check again after it: several waiters are woken by the same room.
   */
  async whenWritable(): Promise<void> {
    while (!this.#closed && !this.writable) {
      const d = deferred<void>();
      const cancel = this.#budget?.onRoom(() => d.resolve());
      this.#writableWaiters.push(d);
      await d.promise;
      cancel?.();
    }
  }

  #writableWaiters: Deferred<void>[] = [];

  /**
   * Closes the connection if it is past a deadline: a frame begun and not finished in time, or
   * answers its peer has not read for too long (sooner while the server's write budget is used
   * up). Returns the reason it closed, or undefined. Called by the server's sweep.
   */
  checkDeadlines(now: number): string | undefined {
    if (this.#closed) return undefined;
    const l = this.#limits;
    let reason: string | undefined;
    if (this.#frameSince > 0 && now - this.#frameSince > l.frameReadTimeoutMs) {
      reason = `frame incomplete after ${l.frameReadTimeoutMs} ms (${this.#decoder.bufferedBytes} bytes received)`;
    } else if (this.#queuedBytes + this.#writingBytes > 0) {
      const unsent = this.#queuedBytes + this.#writingBytes;
      const stalledMs = now - this.#lastWriteAt;
      if (stalledMs > l.writeStallTimeoutMs) {
        reason = `peer read nothing of ${unsent} queued bytes for ${l.writeStallTimeoutMs} ms`;
      } else if (this.#budget?.writeExhausted && stalledMs > l.writeStallUnderPressureMs && !this.writable) {
        reason = `peer read nothing of ${unsent} queued bytes for ${stalledMs} ms while the server's write budget of ${this.#budget.maxBacklogBytes} bytes is used up`;
      }
    }
    if (reason !== undefined) this.#limitClose(reason);
    return reason;
  }

  #limitClose(reason: string): void {
    if (this.#closed) return;
    this.#opts.onLimitClose?.(this, reason);
    this.close(reason);
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
    const answer = this.#pending.add(opaque, request.code, deadline, timeoutMs);
    this.#enqueue(parts);
    return answer;
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
    const err = new RemotingClosedError(this.remoteAddr, reason);
    this.#pending.failAll(err);
    for (const w of this.#drainWaiters) w.reject(err);
    this.#drainWaiters = [];
    for (const w of this.#idleWaiters) w.resolve();
    this.#idleWaiters = [];
    this.#capacityWaiter?.resolve();
    for (const w of this.#writableWaiters) w.resolve();
    this.#writableWaiters = [];
    this.#held = [];
    this.#budget?.chargeBacklog(-(this.#queuedBytes + this.#writingBytes + this.#reservedBytes));
    this.#reserved.clear();
    this.#reservedBytes = 0;
    this.#budget?.chargeFrame(-this.#frameCharged);
    this.#frameCharged = 0;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#writingBytes = 0;
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
        this.#lastReadAt = Date.now();
        this.#decoder.push(value, this.#onCommand);
        if (!this.#chargeFrame()) break;
        // Stop reading while too much is in progress: the peer's socket buffers fill and it
        // slows down. Requests already read wait their turn here, each checked before it runs.
        while (!this.#closed && (this.#held.length > 0 || this.#full())) {
          if (this.#full()) {
            this.#capacityWaiter = deferred<void>();
            const cancel = this.#budget?.writeExhausted ? this.#budget.onRoom(() => this.#wake()) : undefined;
            await this.#capacityWaiter.promise;
            cancel?.();
            continue;
          }
          this.#dispatch(this.#held.shift()!);
        }
      }
      this.#decoder.end();
      cleanEnd = true;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
      if (err instanceof FrameError && !this.#closed) this.#opts.onProtocolError?.(this, err);
    } finally {
      reader.releaseLock();
    }
    if (this.#closed) return;
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
    this.#frameEnded = true;
    if ((cmd.flag & FLAG_RESPONSE) !== 0) {
      this.#pending.resolve(cmd); // false for a late answer to a request that already timed out
      return;
    }
    if (this.#opts.followPeerSerializeType && cmd.serializeType !== undefined) this.#serializeType = cmd.serializeType;
    // Checked per request, not per chunk: one chunk can carry hundreds of pulls.
    if (this.#held.length > 0 || this.#full()) this.#held.push(cmd);
    else this.#dispatch(cmd);
  };

  /** No capacity for another request: too many in progress, or answers pile up unread. */
  #full(): boolean {
    return this.#inFlight >= this.#limits.maxInFlightRequests || !this.writable;
  }

  /** Charges the incomplete frame's growth to the shared budget; false (and closed) past its total. */
  #chargeFrame(): boolean {
    const now = this.#decoder.bufferedBytes;
    const delta = now - this.#frameCharged;
    if (now === 0) this.#frameSince = 0;
    else if (this.#frameCharged === 0 || this.#frameEnded) this.#frameSince = this.#lastReadAt;
    this.#frameEnded = false;
    this.#frameCharged = now;
    if (delta === 0) return true;
    if (this.#budget === undefined || this.#budget.chargeFrame(delta) || delta <= 0) return true;
    this.#limitClose(`incomplete frames of all connections past the budget of ${this.#budget.maxFrameBytes} bytes (this one holds ${now})`);
    return false;
  }

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
    if (req.headerError !== undefined) {
      if (!oneway) this.#respond(req, createResponse(ResponseCode.INVALID_PARAMETER, req.headerError));
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
    if (this.#closed || oneway) {
      this.#releaseReserved(req);
      this.#notifyIdle();
    } else if (err !== undefined) {
      this.#respond(req, errorResponse(err, req.code));
      this.#releaseReserved(req);
      if (!(err instanceof BolideError)) this.#opts.onProtocolError?.(this, err as Error);
    } else {
      // Queued first, then the reservation released: the backlog never dips in between.
      this.#respond(req, result ?? createResponse(ResponseCode.SUCCESS));
      this.#releaseReserved(req);
    }
    if (this.#capacityWaiter && this.#inFlight < this.#limits.maxInFlightRequests) this.#wake();
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
    let bytes = 0;
    for (const p of parts) {
      this.#queue.push(p);
      bytes += p.byteLength;
    }
    if (this.#queuedBytes + this.#writingBytes === 0) this.#lastWriteAt = Date.now();
    this.#queuedBytes += bytes;
    this.#budget?.chargeBacklog(bytes);
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
          if (this.#closed) return; // close() released the budget
          this.#writingBytes -= buf.byteLength;
          this.#budget?.chargeBacklog(-buf.byteLength);
          this.#lastWriteAt = Date.now();
        }
        this.#notifyDrain();
      }
    } catch (err) {
      this.close(`write failed: ${(err as Error).message}`);
    } finally {
      this.#writing = false;
      this.#notifyIdle();
    }
  };

  #notifyDrain(): void {
    if (this.writeBacklogBytes > this.#limits.maxWriteBacklogBytes) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
    if (this.#writableWaiters.length > 0 && this.writable) {
      const ws = this.#writableWaiters;
      this.#writableWaiters = [];
      for (const w of ws) w.resolve();
    }
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
}

/** A processor's failure as a response: its own code when it is a BolideError, SYSTEM_ERROR otherwise. */
export function errorResponse(err: unknown, requestCode: number): RemotingCommand {
  if (err instanceof BolideError) return createResponse(err.code, err.message);
  const e = err instanceof Error ? err : new Error(String(err));
  return createResponse(ResponseCode.SYSTEM_ERROR, `${requestCodeName(requestCode)} failed: ${e.name}: ${e.message}`);
}
