import { ResponseCode, responseCodeName } from "./response_code.ts";

/**
 * Every error Bolide raises on purpose is a BolideError carrying a RocketMQ response code, so a
 * server can answer with the right code and a client can branch on it. One class per condition.
 */
export class BolideError extends Error {
  override name = "BolideError";
  readonly code: number;
  constructor(code: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A frame that cannot be decoded: the connection it came on is closed. */
export class FrameError extends BolideError {
  override name = "FrameError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ResponseCode.SYSTEM_ERROR, `Cannot decode frame: ${message}`, options);
  }
}

/** A request whose header fields or body are missing or of the wrong shape. */
export class InvalidParameterError extends BolideError {
  override name = "InvalidParameterError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ResponseCode.INVALID_PARAMETER, message, options);
  }
}

export class TopicNotExistError extends BolideError {
  override name = "TopicNotExistError";
  readonly topic: string;
  constructor(topic: string, message?: string) {
    super(ResponseCode.TOPIC_NOT_EXIST, message ?? `No route info for topic "${topic}"`);
    this.topic = topic;
  }
}

/** A bound was reached (pending requests, brokers, topics); the caller should back off and retry. */
export class SystemBusyError extends BolideError {
  override name = "SystemBusyError";
  constructor(message: string) {
    super(ResponseCode.SYSTEM_BUSY, message);
  }
}

/** A message the store refuses as it is (size, properties): MESSAGE_ILLEGAL. */
export class MessageIllegalError extends BolideError {
  override name = "MessageIllegalError";
  constructor(message: string) {
    super(ResponseCode.MESSAGE_ILLEGAL, message);
  }
}

/** The service cannot take writes now (disk full, shutting down, store locked): SERVICE_NOT_AVAILABLE. */
export class ServiceNotAvailableError extends BolideError {
  override name = "ServiceNotAvailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ResponseCode.SERVICE_NOT_AVAILABLE, message, options);
  }
}

/** A send that failed on every attempt: names the topic, the attempts and each failure. */
export class SendFailedError extends BolideError {
  override name = "SendFailedError";
  readonly attempts: string[];
  constructor(code: number, topic: string, attempts: string[]) {
    super(code, `Send to topic ${topic} failed after ${attempts.length} attempt(s): ${attempts.join("; ")}`);
    this.attempts = attempts;
  }
}

/** A subscription expression (SQL92 filter) that does not parse: SUBSCRIPTION_PARSE_FAILED. */
export class SubscriptionParseError extends BolideError {
  override name = "SubscriptionParseError";
  constructor(message: string) {
    super(ResponseCode.SUBSCRIPTION_PARSE_FAILED, message);
  }
}

/** The account or the topic's permission does not allow the request: NO_PERMISSION. */
export class NoPermissionError extends BolideError {
  override name = "NoPermissionError";
  constructor(message: string) {
    super(ResponseCode.NO_PERMISSION, message);
  }
}

/** The remote answered with a non-success code that the caller did not expect. */
export class ResponseError extends BolideError {
  override name = "ResponseError";
  readonly addr: string;
  readonly remark: string | undefined;
  constructor(addr: string, code: number, remark: string | undefined, what: string) {
    super(code, `${what} failed${addr ? ` at ${addr}` : ""}: ${responseCodeName(code)}${remark ? ` ${remark}` : ""}`);
    this.addr = addr;
    this.remark = remark;
  }
}

/** Base of the transport failures; each names the address it concerns. */
export class RemotingError extends BolideError {
  override name = "RemotingError";
  readonly addr: string;
  constructor(addr: string, message: string, options?: { cause?: unknown }) {
    super(ResponseCode.SYSTEM_ERROR, message, options);
    this.addr = addr;
  }
}

export class RemotingTimeoutError extends RemotingError {
  override name = "RemotingTimeoutError";
  readonly timeoutMs: number;
  constructor(addr: string, timeoutMs: number, what: string) {
    super(addr, `${what} to ${addr} timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

export class RemotingConnectError extends RemotingError {
  override name = "RemotingConnectError";
  constructor(addr: string, reason: string, options?: { cause?: unknown }) {
    super(addr, `Cannot connect to ${addr}: ${reason}`, options);
  }
}

export class RemotingClosedError extends RemotingError {
  override name = "RemotingClosedError";
  constructor(addr: string, reason: string, options?: { cause?: unknown }) {
    super(addr, `Connection to ${addr} closed: ${reason}`, options);
  }
}

export class RemotingTooManyRequestsError extends RemotingError {
  override name = "RemotingTooManyRequestsError";
  constructor(addr: string, pending: number) {
    super(addr, `Too many requests awaiting a response from ${addr} (${pending}); retry later`);
  }
}

/** The error classes a response code maps to (the rest become a ResponseError). */
const BY_CODE: Record<number, new (message: string) => BolideError> = {
  [ResponseCode.INVALID_PARAMETER]: InvalidParameterError,
  [ResponseCode.MESSAGE_ILLEGAL]: MessageIllegalError,
  [ResponseCode.NO_PERMISSION]: NoPermissionError,
  [ResponseCode.SERVICE_NOT_AVAILABLE]: ServiceNotAvailableError,
  [ResponseCode.SUBSCRIPTION_PARSE_FAILED]: SubscriptionParseError,
  [ResponseCode.SYSTEM_BUSY]: SystemBusyError,
};

/**
 * The error a client throws for a response `code` it cannot take as success: the class of that
 * condition (NoPermissionError for NO_PERMISSION, …), or a ResponseError, its message naming
 * what was asked, where, the code's name and the remote's remark.
 */
export function errorFromResponse(code: number, remark: string | undefined, what = "request", addr = ""): BolideError {
  const message = `${what} failed${addr ? ` at ${addr}` : ""}: ${responseCodeName(code)}${remark ? ` ${remark}` : ""}`;
  if (code === ResponseCode.TOPIC_NOT_EXIST) return new TopicNotExistError(/topic\[([^\]]*)\]/.exec(remark ?? "")?.[1] ?? "", message);
  const Class = BY_CODE[code];
  return Class ? new Class(message) : new ResponseError(addr, code, remark, what);
}

/** All error classes, for `instanceof` checks by users of the library. */
export const errors = {
  BolideError,
  FrameError,
  InvalidParameterError,
  MessageIllegalError,
  NoPermissionError,
  RemotingClosedError,
  RemotingConnectError,
  RemotingError,
  RemotingTimeoutError,
  RemotingTooManyRequestsError,
  ResponseError,
  SendFailedError,
  ServiceNotAvailableError,
  SubscriptionParseError,
  SystemBusyError,
  TopicNotExistError,
} as const;
