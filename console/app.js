/**
 * The console's shell: log-in, the tenant and view in the URL's fragment, the navigation a
 * role may use, and the language switch. Every view talks to the server through `api.js` and
 * renders what it gets as text (htm/preact escape every value; nothing here sets HTML).
 */
import { html, render, useEffect, useState } from "./vendor/preact-htm.js";
import { apiClient } from "./api.js";
import { t, useLang, setLang, LANGS } from "./i18n.js";
import {
  loadSession,
  saveSession,
  may,
  parseRoute,
  routeHref,
  pinnedKeys,
  pinKeys,
} from "./state.js";
import { ErrorNote } from "./ui.js";
import { EventsView } from "./views/events.js";
import { RecordView } from "./views/record.js";
import { AccessView } from "./views/access.js";
import { ReportsView } from "./views/reports.js";
import { GdprView } from "./views/gdpr.js";
import { VerifyView } from "./views/verify.js";
import { TenantsView } from "./views/tenants.js";

/** The views, in the navigation's order, with the permission each needs. */
const VIEWS = [
  { id: "tenants", permission: "tenant.admin", label: "nav.tenants", view: TenantsView },
  { id: "events", permission: "events.read", label: "nav.events", view: EventsView },
  { id: "access", permission: "reports.read", label: "nav.access", view: AccessView },
  { id: "reports", permission: "reports.read", label: "nav.reports", view: ReportsView },
  { id: "gdpr", permission: "subjects.manage", label: "nav.gdpr", view: GdprView },
  { id: "verify", permission: "proofs.read", label: "nav.verify", view: VerifyView },
];

function useRoute() {
  const [route, setRoute] = useState(parseRoute());
  useEffect(() => {
    const on = () => setRoute(parseRoute());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function App() {
  useLang();
  const [session, setSession] = useState(loadSession());
  const route = useRoute();
  const logOut = () => {
    saveSession(null);
    setSession(null);
    location.hash = "";
  };
  if (session === null) {
    return html`<${Login} route=${route} onLogin=${(s) => (saveSession(s), setSession(s))} />`;
  }
  return html`<${Shell} session=${session} route=${route} onLogOut=${logOut} />`;
}

function LangSwitch() {
  const lang = useLang();
  return html`<div class="lang" role="group" aria-label=${t("lang.label")}>
    ${LANGS.map(
      (l) =>
        html`<button type="button" lang=${l} aria-pressed=${l === lang} onClick=${() => setLang(l)}>
          ${l.toUpperCase()}
        </button>`,
    )}
  </div>`;
}

function Login({ route, onLogin }) {
  const [token, setToken] = useState("");
  const [tenant, setTenant] = useState(route.tenant);
  // A key pinned before wins over a link's: a link cannot silently replace it.
  const stored = route.tenant ? pinnedKeys(route.tenant).join("\n") : "";
  const linkPin = route.query.pin?.trim() ?? "";
  const [pins, setPins] = useState(stored || linkPin);
  const [purpose, setPurpose] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const api = apiClient({ token: token.trim(), purpose: purpose.trim() });
      const who = await api.get("/v1/session");
      if (who.scope !== "*" && tenant.trim() !== "" && tenant.trim() !== who.scope) {
        throw new Error(t("login.otherTenant", { tenant: tenant.trim(), scope: who.scope }));
      }
      const home = who.scope === "*" ? tenant.trim() : who.scope;
      // The keys are the tenant's of the link, if any: never pinned under another tenant.
      if (home !== "" && pins.trim() !== "" && (route.tenant === "" || route.tenant === home)) {
        pinKeys(home, pins);
      }
      const session = { token: token.trim(), purpose: purpose.trim(), ...who };
      const first = VIEWS.find((v) => may(session, v.permission));
      // A link to a view of this tenant (a record, a filtered page) opens where it points.
      location.hash =
        route.view !== "" && route.tenant === home
          ? routeHref({ ...route, query: { ...route.query, pin: "" } })
          : routeHref({ tenant: home, view: home === "" ? "tenants" : (first?.id ?? "") });
      onLogin(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="login">
    <header class="login-head">
      <h1>${t("app.title")}</h1>
      <${LangSwitch} />
    </header>
    <form onSubmit=${submit} aria-describedby="login-help">
      <p id="login-help">${t("login.help")}</p>
      <label for="token">${t("login.token")}</label>
      <input
        id="token"
        type="password"
        autocomplete="off"
        required
        value=${token}
        onInput=${(e) => setToken(e.currentTarget.value)}
      />
      <label for="tenant">${t("login.tenant")}</label>
      <input
        id="tenant"
        type="text"
        value=${tenant}
        placeholder=${t("login.tenantHint")}
        onInput=${(e) => setTenant(e.currentTarget.value)}
      />
      <label for="pins">${t("login.pins")}</label>
      <textarea
        id="pins"
        rows="3"
        spellcheck="false"
        value=${pins}
        onInput=${(e) => setPins(e.currentTarget.value)}
      ></textarea>
      <p class="hint">${t("login.pinsHint")}</p>
      ${
        stored !== "" && linkPin !== "" && !stored.split("\n").includes(linkPin)
          ? html`<div class="warn-box" role="alert">
              <p>${t("login.otherPin", { tenant: route.tenant })}</p>
              <p class="mono">${linkPin}</p>
              <button type="button" onClick=${() => setPins(linkPin)}>
                ${t("login.useLinkPin")}
              </button>
            </div>`
          : null
      }
      <label for="purpose">${t("login.purpose")}</label>
      <input
        id="purpose"
        type="text"
        maxlength="200"
        value=${purpose}
        onInput=${(e) => setPurpose(e.currentTarget.value)}
      />
      <button type="submit" disabled=${busy}>${t("login.submit")}</button>
      <${ErrorNote} error=${error} />
    </form>
  </main>`;
}

function Shell({ session, route, onLogOut }) {
  const api = apiClient(session);
  const tenant = route.tenant || (session.scope === "*" ? "" : session.scope);
  const allowed = VIEWS.filter((v) => may(session, v.permission));
  const current =
    allowed.find((v) => v.id === route.view) ??
    (tenant === "" ? allowed[0] : (allowed.find((v) => v.id !== "tenants") ?? allowed[0]));
  const View =
    current?.id === "events" && route.view === "events" && route.arg !== ""
      ? RecordView
      : current?.view;
  useEffect(() => {
    document.title = [current ? t(current.label) : "", tenant, "genlog"]
      .filter((part) => part !== "")
      .join(" · ");
  });
  return html`<div class="shell">
    <header class="top">
      <button type="button" class="skip" onClick=${() => document.getElementById("main")?.focus()}>
        ${t("shell.skip")}
      </button>
      <a class="brand" href=${routeHref({ tenant, view: current?.id ?? "" })}>genlog</a>
      <span class="tenant" title=${t("shell.tenant")}>${tenant || "*"}</span>
      <nav aria-label=${t("nav.label")}>
        ${allowed.map(
          (v) =>
            html`<a
              href=${routeHref({ tenant, view: v.id })}
              aria-current=${v === current ? "page" : undefined}
              >${t(v.label)}</a
            >`,
        )}
      </nav>
      <span class="who">${session.role} · ${session.principal}</span>
      <${LangSwitch} />
      <button type="button" class="link" onClick=${onLogOut}>${t("shell.logOut")}</button>
    </header>
    <main id="main" tabindex="-1">
      ${
        View === undefined
          ? html`<p class="empty" role="status">${t("shell.nothing", { role: session.role })}</p>`
          : tenant === "" && current.id !== "tenants"
            ? html`<p class="empty">${t("shell.pickTenant")}</p>`
            : html`<${View}
                key=${`${tenant}/${current.id}/${route.arg}`}
                api=${api}
                session=${session}
                tenant=${tenant}
                route=${route}
              />`
      }
    </main>
  </div>`;
}

const root = document.getElementById("app");
root.replaceChildren(); // the page's "loading" line
render(html`<${App} />`, root);
