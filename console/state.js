/**
 * What the console remembers. The token lives in session storage only (gone when the tab
 * closes, never in a cookie, so no other site can make the browser use it); the pinned
 * verifier keys and the language are not secrets and stay in local storage.
 */
const SESSION = "genlog.session";
const PINS = "genlog.pins";

/** The session: `{token, purpose, principal, role, scope, permissions}`, or null. */
export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION) ?? "null");
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session === null) sessionStorage.removeItem(SESSION);
  else sessionStorage.setItem(SESSION, JSON.stringify(session));
}

/** The verifier keys the user pinned for a tenant (one per line), or []. */
export function pinnedKeys(tenant) {
  const all = readPins();
  return (all[tenant] ?? "")
    .split("\n")
    .map((k) => k.trim())
    .filter((k) => k !== "");
}

export function pinKeys(tenant, text) {
  const all = readPins();
  if (text.trim() === "") delete all[tenant];
  else all[tenant] = text.trim();
  localStorage.setItem(PINS, JSON.stringify(all));
}

function readPins() {
  try {
    const v = JSON.parse(localStorage.getItem(PINS) ?? "{}");
    return v !== null && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

/** Whether the session's role holds a permission (the server decides; this only hides). */
export function may(session, permission) {
  return session?.permissions?.includes(permission) === true;
}

/** The tenant part of a route that names none (a superadmin's tenants list): `#/-/tenants`. */
const NO_TENANT = "-";

/** The route in the URL's fragment: `#/<tenant>/<view>/<arg>?<query>`. */
export function parseRoute(hash = location.hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  // A malformed escape in a typed URL is kept as typed, not a blank page.
  const decode = (part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const [first = "", view = "", ...rest] = path.split("/").map(decode);
  return {
    tenant: first === NO_TENANT ? "" : first,
    view,
    arg: rest.join("/"),
    query: Object.fromEntries(new URLSearchParams(search)),
  };
}

export function routeHref({ tenant, view, arg = "", query = {} }) {
  const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v != null));
  const path = [tenant === "" ? NO_TENANT : tenant, view, arg]
    .filter((p) => p !== "")
    .map(encodeURIComponent)
    .join("/");
  return `#/${path}${q.size > 0 ? `?${q}` : ""}`;
}
