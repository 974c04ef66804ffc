// The one client of the gateway's JSON API. Its types come from the OpenAPI document the
// gateway serves (src/openapi.d.ts is generated from it at build time), so a response
// the page reads wrongly fails the type check, not the technician.
import type { components, paths } from "./openapi";

export type Schemas = components["schemas"];
export type Status = Schemas["Status"];
export type Device = Schemas["Device"];
export type Alert = Schemas["Alert"];
export type DeviceHistory = Schemas["DeviceHistory"];
export type Energy = Schemas["Energy"];
export type Session = Schemas["Session"];
export type Prices = Schemas["Prices"];
export type HeldPrice = Schemas["HeldPrice"];
export type ShelfSearch = Schemas["ShelfSearch"];
export type ShelfLabel = Schemas["ShelfLabel"];
export type Shelf = Schemas["Shelf"];
export type User = Schemas["User"];
export type WebSession = Schemas["WebSession"];
export type AuditEntry = Schemas["AuditEntry"];

type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
type Ok<Op> = Op extends { responses: { 200: infer R } } ? Json<R> : never;
type Body<Op> = Op extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : Op extends { requestBody?: { content: { "application/json": infer B } } }
    ? B
    : undefined;
type GetPath = { [P in keyof paths]: paths[P] extends { get: object } ? P : never }[keyof paths];
type PostPath = { [P in keyof paths]: paths[P] extends { post: object } ? P : never }[keyof paths];
type DeletePath = {
  [P in keyof paths]: paths[P] extends { delete: object } ? P : never;
}[keyof paths];

/** An answer of the API that is not a success: what it says, in words and as a code the
 * page translates (with its arguments). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly args: Record<string, unknown> = {},
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }
}

let csrf = "";
let onLoggedOut: () => void = () => undefined;
// Asks the person for their second factor again (the step-up dialog); true once confirmed.
let askStepUp: (action: string) => Promise<boolean> = async () => false;

export function useSession(token: string, loggedOut: () => void): void {
  csrf = token;
  onLoggedOut = loggedOut;
}

export function onStepUp(ask: (action: string) => Promise<boolean>): void {
  askStepUp = ask;
}

function fill(path: string, params: Record<string, string | number>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(params[name])));
}

type Method = "GET" | "POST" | "DELETE";

/** A request; a sensitive action the server wants a fresh second factor for is asked for
 * inline (the step-up dialog) and sent again once confirmed. */
async function call<T>(method: Method, url: string, body?: unknown): Promise<T> {
  try {
    return await send<T>(method, url, body);
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== "step-up") throw e;
    if (!(await askStepUp(String(e.args.action ?? "")))) throw e;
    return send<T>(method, url, body);
  }
}

async function send<T>(method: Method, url: string, body?: unknown): Promise<T> {
  // X-Client: the audit tells what was done on the page from what came through the API.
  const headers: Record<string, string> = { Accept: "application/json", "X-Client": "page" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let resp: Response;
  try {
    resp = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "the gateway does not answer", "unreachable");
  }
  const data = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (resp.status === 401 && data.code === "login-required") onLoggedOut();
  if (!resp.ok) {
    const retry = resp.headers.get("Retry-After");
    throw new ApiError(
      resp.status,
      typeof data.error === "string" ? data.error : resp.statusText,
      typeof data.code === "string" ? data.code : null,
      (data.args as Record<string, unknown>) ?? {},
      retry === null ? null : Number(retry),
    );
  }
  return data as T;
}

export function get<P extends GetPath>(
  path: P,
  params: Record<string, string | number> = {},
  query: Record<string, string | number> = {},
): Promise<Ok<paths[P] extends { get: infer Op } ? Op : never>> {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  const url = fill(path, params) + (q.size ? `?${q}` : "");
  return call("GET", url);
}

export function post<P extends PostPath>(
  path: P,
  params: Record<string, string | number>,
  body: Body<paths[P] extends { post: infer Op } ? Op : never>,
): Promise<Ok<paths[P] extends { post: infer Op } ? Op : never>> {
  return call("POST", fill(path, params), body ?? {});
}

export function del<P extends DeletePath>(
  path: P,
  params: Record<string, string | number>,
): Promise<Ok<paths[P] extends { delete: infer Op } ? Op : never>> {
  return call("DELETE", fill(path, params));
}

/** The address of a picture the API serves (previews of labels and held prices). */
export function image(path: string, query: Record<string, string | number> = {}): string {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return path + (q.size ? `?${q}` : "");
}
