// One URL per view: the address bar says where the technician is, a reload keeps it, a
// link to a device can be shared. The history API, no hash; the gateway serves the page
// for every address that is not the API's.
import { signal } from "@preact/signals";

export interface Route {
  path: string;
  query: URLSearchParams;
}

function current(): Route {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export const route = signal<Route>(current());

window.addEventListener("popstate", () => {
  route.value = current();
});

/** Go to ``url`` (a path with its query); ``replace``: without a new history entry. */
export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route.value = current();
  if (!replace) window.scrollTo(0, 0);
}

/** The current address with some query parameters set (null or "": removed). */
export function withQuery(changes: Record<string, string | number | null>): string {
  const q = new URLSearchParams(route.value.query);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === "") q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return route.value.path + (s ? `?${s}` : "");
}

/** ``/devices/:id`` against a path: the parameters, or null if it does not match. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) out[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return out;
}
