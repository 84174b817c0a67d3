/**
 * Tenants, for admins: each one's size, latest checkpoint and its age, region and database,
 * retention and next purge, and legal holds. Figures a role may not read are left out.
 */
import { html } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { may, routeHref } from "../state.js";
import { ErrorNote, Time, useLoad } from "../ui.js";

export function TenantsView({ api, session }) {
  const [tenants, error] = useLoad(() => api.get("/v1/tenants"), []);
  return html`<section aria-labelledby="tenants-title">
    <h1 id="tenants-title">${t("tenants.title")}</h1>
    <${ErrorNote} error=${error} />
    ${tenants?.length === 0 ? html`<p class="empty">${t("tenants.none")}</p>` : null}
    ${tenants?.map((info) => html`<${Tenant} key=${info.tenant} api=${api} session=${session} info=${info} />`)}
  </section>`;
}

function Tenant({ api, session, info }) {
  const [extra, error] = useLoad(async () => {
    const [retention, holds, gdpr] = await Promise.all([
      api.get(tenantPath(info.tenant, "retention")),
      api.get(tenantPath(info.tenant, "holds")),
      may(session, "reports.read") ? api.get(tenantPath(info.tenant, "reports/gdpr")) : null,
    ]);
    return { retention, holds, gdpr };
  }, [info.tenant]);
  const first = may(session, "events.read") ? "events" : "tenants";
  return html`<article class="tenant-card" aria-labelledby=${`tenant-${info.tenant}`}>
    <h2 id=${`tenant-${info.tenant}`}>
      <a href=${routeHref({ tenant: info.tenant, view: first })}>${info.tenant}</a>
    </h2>
    <dl class="fields">
      <dt>${t("tenants.size")}</dt>
      <dd>${info.size}</dd>
      <dt>${t("tenants.checkpoint")}</dt>
      <dd>
        ${info.checkpointSize === null ? "—" : html`${info.checkpointSize} · <${Age} at=${info.checkpointAt} />`}
      </dd>
      <dt>${t("tenants.region")}</dt>
      <dd>${info.region ?? t("tenants.home")}</dd>
      <dt>${t("tenants.database")}</dt>
      <dd class="mono">${info.database}</dd>
      <dt>${t("tenants.origin")}</dt>
      <dd class="mono">${info.origin}</dd>
      ${
        extra
          ? html`<dt>${t("tenants.retention")}</dt>
              <dd>
                ${t("tenants.days", { days: extra.retention.days })}${extra.retention.isDefault ? ` (${t("tenants.default")})` : ""}
              </dd>
              ${
                extra.gdpr
                  ? html`<dt>${t("tenants.nextPurge")}</dt>
                      <dd>
                        <${Time} value=${extra.gdpr.retention.nextPurge} />
                        ${extra.gdpr.retention.due > 0 ? ` · ${t("tenants.due", { n: extra.gdpr.retention.due })}` : ""}
                      </dd>`
                  : null
              }
              <dt>${t("tenants.holds")}</dt>
              <dd>
                ${extra.holds.length === 0 ? t("tenants.noHolds") : extra.holds.map((h) => h.pseudonym ?? t("gdpr.wholeTenant")).join(", ")}
              </dd>`
          : null
      }
    </dl>
    <${ErrorNote} error=${error} />
  </article>`;
}

/** How long ago, in the largest whole unit. */
function Age({ at }) {
  if (!at) return html`<span class="muted">—</span>`;
  const seconds = Math.max(0, (Date.now() - Date.parse(at)) / 1000);
  const [n, unit] =
    seconds < 120
      ? [seconds, "second"]
      : seconds < 7200
        ? [seconds / 60, "minute"]
        : seconds < 172800
          ? [seconds / 3600, "hour"]
          : [seconds / 86400, "day"];
  const text = new Intl.RelativeTimeFormat(document.documentElement.lang, {
    numeric: "auto",
  }).format(-Math.floor(n), unit);
  return html`<time datetime=${at} title=${at}>${text}</time>`;
}
