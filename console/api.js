/**
 * The console's only way to the server: the public HTTP API, with the user's bearer token and
 * declared purpose. Errors keep the server's stable code, so views can say what happened.
 */

/** A failed call: the HTTP status and the server's `{code, message, details}`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
    this.details = body?.details ?? {};
  }
}

/** A client for one session: `token` and `purpose` as the user gave them. */
export function apiClient({ token, purpose }) {
  const headers = (extra = {}) => ({
    authorization: `Bearer ${token}`,
    ...(purpose ? { "x-genlog-purpose": purpose } : {}),
    ...extra,
  });

  async function send(method, path, { query, body, accept = "application/json" } = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    const response = await fetch(url, {
      method,
      headers: headers({
        accept,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      }),
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) {
      const text = await response.text();
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text.slice(0, 200) };
      }
      throw new ApiError(response.status, parsed);
    }
    return response;
  }

  const json = async (method, path, options) => (await send(method, path, options)).json();
  return {
    get: (path, query) => json("GET", path, { query }),
    post: (path, body) => json("POST", path, { body }),
    put: (path, body) => json("PUT", path, { body }),
    text: async (path, query) => (await send("GET", path, { query, accept: "text/plain" })).text(),
    /** A POST answered in NDJSON, each parsed line handed to `onLine` as it arrives. */
    async stream(path, body, onLine) {
      const response = await send("POST", path, { body, accept: "application/x-ndjson" });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line !== "") onLine(JSON.parse(line));
        }
      }
      if (buffered.trim() !== "") onLine(JSON.parse(buffered));
    },
  };
}

/** `/v1/tenants/<tenant>/<rest>`, the tenant escaped. */
export function tenantPath(tenant, rest = "") {
  return `/v1/tenants/${encodeURIComponent(tenant)}${rest === "" ? "" : `/${rest}`}`;
}
