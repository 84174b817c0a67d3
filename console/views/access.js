/**
 * The access report: who read what, when and why, the anomalies the server flags, accesses
 * per day, and the access log itself a page at a time (the console's own reads among them).
 */
import { html } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { routeHref } from "../state.js";
import { Chart, ErrorNote, Time, useLoad } from "../ui.js";
import { WindowForm, formKey, windowOf } from "./window.js";

export function AccessView({ api, tenant, route }) {
  const query = route.query;
  const span = windowOf(query);
  const [report, error] = useLoad(
    () => api.get(tenantPath(tenant, "reports/access"), span),
    [tenant, query.since, query.until],
  );
  const [log, logError] = useLoad(
    () =>
      api.get(tenantPath(tenant, "access"), {
        ...span,
        status: query.status,
        cursor: query.cursor,
        limit: 50,
      }),
    [tenant, location.hash],
  );
  const go = (q) =>
    (location.hash = routeHref({ tenant, view: "access", query: { ...query, ...q } }));
  return html`<section aria-labelledby="access-title">
    <h1 id="access-title">${t("access.title")}</h1>
    <${WindowForm} key=${formKey(query)} tenant=${tenant} view="access" query=${query} />
    <${ErrorNote} error=${error} />
    ${
      report
        ? html`<p class="totals">
              ${t("access.totals", { accesses: report.accesses, denied: report.denied })}
            </p>
            <${Chart}
              title=${t("access.perDay")}
              days=${report.byDay.map((d) => d.day)}
              series=${[
                {
                  label: t("access.allowed"),
                  values: report.byDay.map((d) => d.allowed),
                  color: "#1f6f43",
                },
                {
                  label: t("access.denied"),
                  values: report.byDay.map((d) => d.denied),
                  color: "#b3261e",
                },
              ]}
            />
            <h2>${t("access.anomalies")}</h2>
            ${
              report.anomalies.length === 0
                ? html`<p class="muted">${t("access.noAnomalies")}</p>`
                : html`<ul class="anomalies">
                    ${report.anomalies.map(
                      (a) =>
                        html`<li class=${`anomaly anomaly-${a.kind}`}>
                          <strong>${t(`anomaly.${a.kind}`, {}, a.kind)}</strong>${" "}
                          <span class="mono">${a.principal}</span>
                          ${` — ${a.kind === "volume" ? a.message : t(`anomaly.says.${a.kind}`)}`}
                          <span class="muted"> (${t("access.entries")} ${a.seqs.join(", ")})</span>
                        </li>`,
                    )}
                  </ul>`
            }
            <h2>${t("access.principals")}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">${t("access.principal")}</th>
                  <th scope="col">${t("access.roles")}</th>
                  <th scope="col">${t("access.allowed")}</th>
                  <th scope="col">${t("access.denied")}</th>
                  <th scope="col">${t("access.records")}</th>
                  <th scope="col">${t("access.operations")}</th>
                  <th scope="col">${t("access.purposes")}</th>
                  <th scope="col">${t("access.last")}</th>
                </tr>
              </thead>
              <tbody>
                ${report.principals.map(
                  (p) =>
                    html`<tr>
                      <td class="mono">${p.principal}</td>
                      <td>${p.roles.join(", ")}</td>
                      <td>${p.allowed}</td>
                      <td>${p.denied}</td>
                      <td>${p.records}</td>
                      <td>
                        ${Object.entries(p.operations)
                          .map(([k, v]) => `${k} ×${v}`)
                          .join(", ")}
                      </td>
                      <td>
                        ${Object.entries(p.purposes)
                          .map(([k, v]) => `${k === "(none)" ? t("access.noPurpose") : k} ×${v}`)
                          .join(", ")}
                      </td>
                      <td><${Time} value=${p.last} /></td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
    <h2 id="access-log">${t("access.log")}</h2>
    <${ErrorNote} error=${logError} />
    ${
      log
        ? html`<table class="access-log">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">${t("field.ts")}</th>
                  <th scope="col">${t("access.principal")}</th>
                  <th scope="col">${t("access.role")}</th>
                  <th scope="col">${t("access.operation")}</th>
                  <th scope="col">${t("access.decision")}</th>
                  <th scope="col">${t("access.records")}</th>
                  <th scope="col">${t("access.purpose")}</th>
                  <th scope="col">${t("access.via")}</th>
                </tr>
              </thead>
              <tbody>
                ${log.records.map((r) => {
                  const m = r.meta ?? {};
                  return html`<tr class=${m.decision === "deny" ? "denied" : ""}>
                    <td>${r.seq}</td>
                    <td><${Time} value=${r.ts} /></td>
                    <td class="mono">${m.principal ?? "—"}</td>
                    <td>${m.role ?? "—"}</td>
                    <td>${m.operation ?? "—"}</td>
                    <td>
                      ${
                        m.decision === "deny"
                          ? t("access.deny")
                          : m.error !== undefined
                            ? t("access.failed", { code: m.error })
                            : t("access.allow")
                      }${m.reason ? ` — ${m.reason}` : ""}
                    </td>
                    <td>${m.records ?? ""}</td>
                    <td>${m.purpose ?? "—"}</td>
                    <td>${[m.via, m.route].filter(Boolean).join(" ")}</td>
                  </tr>`;
                })}
              </tbody>
            </table>
            <nav class="pager" aria-label=${t("events.pages")}>
              ${query.cursor ? html`<button type="button" onClick=${() => history.back()}>${t("events.previous")}</button>` : null}
              ${
                log.nextCursor !== null
                  ? html`<button type="button" onClick=${() => go({ cursor: log.nextCursor })}>
                      ${t("events.next")}
                    </button>`
                  : null
              }
            </nav>`
        : null
    }
  </section>`;
}
