/**
 * Tenants, for admins: each one's size, latest checkpoint and its age, last verification,
 * region and database, retention and next purge, and legal holds. Figures a role may not
 * read are left out.
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
    ${
      tenants?.length > 0
        ? html`<table class="tenants">
            <thead>
              <tr>
                <th scope="col">${t("field.tenant")}</th>
                <th scope="col">${t("tenants.size")}</th>
                <th scope="col">${t("tenants.checkpoint")}</th>
                <th scope="col">${t("tenants.lastVerify")}</th>
                <th scope="col">${t("tenants.retention")}</th>
                <th scope="col">${t("tenants.nextPurge")}</th>
                <th scope="col">${t("tenants.holds")}</th>
                <th scope="col">${t("tenants.region")}</th>
              </tr>
            </thead>
            <tbody>
              ${tenants.map(
                (info) =>
                  html`<${TenantRow}
                    key=${info.tenant}
                    api=${api}
                    session=${session}
                    info=${info}
                  />`,
              )}
            </tbody>
          </table>`
        : null
    }
  </section>`;
}

function TenantRow({ api, session, info }) {
  // Everything but the holds comes with the tenant's info, read from a few rows of its log.
  const [holds, error] = useLoad(() => api.get(tenantPath(info.tenant, "holds")), [info.tenant]);
  const first = may(session, "events.read") ? "events" : "tenants";
  const v = info.lastVerify;
  return html`<tr>
    <th scope="row">
      <a href=${routeHref({ tenant: info.tenant, view: first })}>${info.tenant}</a>
      <div class="mono muted small" title=${t("tenants.origin")}>${info.origin}</div>
    </th>
    <td>${info.size}</td>
    <td>
      ${
        info.checkpointSize === null
          ? "—"
          : html`${info.checkpointSize} · <${Age} at=${info.checkpointAt} />`
      }
    </td>
    <td>
      ${
        v === null
          ? html`<span class="muted">${t("tenants.never")}</span>`
          : html`<span class=${v.ok ? "ok" : "bad"}>
                ${v.ok ? t("tenants.verifyOk") : t("tenants.verifyProblems", { n: v.problems })}
              </span>
              ${" "}· <${Age} at=${v.at} />
              <div class="muted small">${t("tenants.verifiedUpTo", { size: v.verifiedSize })}</div>`
      }
    </td>
    <td>
      ${t("tenants.days", { days: info.retention.days })}
      ${info.retention.isDefault ? ` (${t("tenants.default")})` : ""}
    </td>
    <td><${Time} value=${info.retention.nextPurge} /></td>
    <td>
      ${
        holds === undefined
          ? "…"
          : holds.length === 0
            ? t("tenants.noHolds")
            : holds.map((h) => h.pseudonym ?? t("gdpr.wholeTenant")).join(", ")
      }
      <${ErrorNote} error=${error} />
    </td>
    <td>
      ${info.region ?? t("tenants.home")}
      <div class="mono muted small">${info.database}</div>
    </td>
  </tr>`;
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
