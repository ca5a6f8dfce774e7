import { BolideError, RemotingError } from "../common/errors.ts";
import { ResponseCode, responseCodeName } from "../common/response_code.ts";

/** An error answer as RFC 9457 `application/problem+json`, carrying RocketMQ's response code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** RocketMQ's response code (e.g. 17 TOPIC_NOT_EXIST), when the cluster answered with one. */
  code?: number;
  codeName?: string;
}

/** The HTTP status a RocketMQ response code means to an HTTP client. */
function statusOf(code: number): number {
  switch (code) {
    case ResponseCode.INVALID_PARAMETER:
    case ResponseCode.MESSAGE_ILLEGAL:
    case ResponseCode.SUBSCRIPTION_PARSE_FAILED:
      return 400;
    case ResponseCode.NO_PERMISSION:
      return 403;
    case ResponseCode.TOPIC_NOT_EXIST:
    case ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST:
    case ResponseCode.CONSUMER_NOT_ONLINE:
    case ResponseCode.QUERY_NOT_FOUND:
    case ResponseCode.NO_MESSAGE:
      return 404;
    case ResponseCode.SYSTEM_BUSY:
      return 503;
    default:
      return 502; // the cluster refused or failed: this endpoint is a gateway to it
  }
}

export function problemResponse(p: Problem): Response {
  return new Response(JSON.stringify(p), { status: p.status, headers: { "content-type": "application/problem+json" } });
}

/** An error thrown by a route, as the problem it is. A transport failure is 502 with no RocketMQ code. */
export function problemOf(err: unknown): Problem {
  if (err instanceof RemotingError) return { type: "about:blank", title: "Cluster unreachable", status: 502, detail: err.message };
  if (err instanceof BolideError) {
    const status = statusOf(err.code);
    return { type: "about:blank", title: responseCodeName(err.code).replace(/\(\d+\)$/, ""), status, detail: err.message, code: err.code, codeName: responseCodeName(err.code) };
  }
  // Not a cluster answer: say only that, never the internals.
  return { type: "about:blank", title: "Internal error", status: 500, detail: "the admin endpoint failed; see its log" };
}

/** A problem the endpoint itself finds (a bad body, no token, an unknown route). */
export function problem(status: number, title: string, detail: string): Problem {
  return { type: "about:blank", title, status, detail };
}
