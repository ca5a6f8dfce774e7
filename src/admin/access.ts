import { problem, problemResponse } from "./problem.ts";

/** Who may use the endpoint: the admin token, if one is set, and whether reads need it too. */
export interface Access {
  /** The admin token (`adminToken` / BOLIDE_ADMIN_TOKEN). Without one, write routes are refused. */
  token?: string;
  /** Reads need the token as well (a bind other than loopback). */
  readsNeedToken?: boolean;
  /** Browser origins allowed to call /api/ (CORS); none: no CORS headers at all. */
  corsOrigins?: string[];
}

/** Compares in time that depends only on the longer length, not on where the strings differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * The refusal for a request `access` does not allow, or undefined. The token comes as
 * `Authorization: Bearer <token>`; neither it nor what was sent is ever echoed.
 */
export function refusal(access: Access, write: boolean, authorization: string | undefined): Response | undefined {
  if (!write && !access.readsNeedToken) return undefined;
  if (!access.token) {
    return problemResponse(problem(403, "Forbidden", "this endpoint has no admin token set (adminToken or BOLIDE_ADMIN_TOKEN), so it takes no writes"));
  }
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (!m) return problemResponse(problem(401, "Unauthorized", `${write ? "a write" : "this endpoint"} needs the admin token: Authorization: Bearer <token>`));
  if (!sameSecret(m[1].trim(), access.token)) return problemResponse(problem(403, "Forbidden", "the admin token does not match"));
  return undefined;
}
