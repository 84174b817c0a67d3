/** The generation report: generations per type, sector, status and day, with a chart. */
import { html } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { lang, t } from "../i18n.js";
import { Chart, ErrorNote, useLoad } from "../ui.js";
import { WindowForm, formKey, windowOf } from "./window.js";

export function ReportsView({ api, tenant, route }) {
  const query = route.query;
  const [r, error] = useLoad(
    () => api.get(tenantPath(tenant, "reports/generation"), windowOf(query)),
    [tenant, query.since, query.until],
  );
  return html`<section aria-labelledby="reports-title">
    <h1 id="reports-title">${t("reports.title")}</h1>
    <${WindowForm} key=${formKey(query)} tenant=${tenant} view="reports" query=${query} />
    <${ErrorNote} error=${error} />
    ${
      r
        ? html`<p class="totals">
              ${t("reports.totals", { total: r.all.total, failed: r.all.failed, rate: percent(r.all.failureRate) })}
              ${" "}${t("reports.redacted", { records: r.redacted.records, redactions: r.redacted.redactions })}
            </p>
            <${Chart}
              title=${t("reports.perDay")}
              days=${r.byDay.map((d) => d.day)}
              series=${[
                {
                  label: t("reports.succeeded"),
                  values: r.byDay.map((d) => d.succeeded),
                  color: "#1f6f43",
                },
                {
                  label: t("reports.failed"),
                  values: r.byDay.map((d) => d.failed),
                  color: "#b3261e",
                },
                {
                  label: t("reports.started"),
                  values: r.byDay.map((d) => d.started),
                  color: "#5b5b5b",
                },
              ]}
            />
            <div class="grid">
              <${Counts} title=${t("reports.byType")} rows=${r.byType.map((x) => [x.type, x])} />
              <${Counts}
                title=${t("reports.bySector")}
                rows=${r.bySector.map((x) => [x.sector ?? "—", x])}
              />
            </div>
            <h2>${t("reports.topActors")}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">${t("field.actor")}</th>
                  <th scope="col">${t("reports.total")}</th>
                  <th scope="col">${t("reports.failed")}</th>
                </tr>
              </thead>
              <tbody>
                ${r.topActors.map(
                  (a) =>
                    html`<tr>
                      <td class="mono">${a.actor}</td>
                      <td>${a.total}</td>
                      <td>${a.failed}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
  </section>`;
}

/** A rate as the user's language writes a percentage (10.9 % / 10,9 %). */
function percent(rate) {
  return rate === null
    ? "—"
    : new Intl.NumberFormat(lang(), { style: "percent", minimumFractionDigits: 1 }).format(rate);
}

function Counts({ title, rows }) {
  return html`<div>
    <h2>${title}</h2>
    <table>
      <thead>
        <tr>
          <th scope="col"></th>
          <th scope="col">${t("reports.total")}</th>
          <th scope="col">${t("reports.succeeded")}</th>
          <th scope="col">${t("reports.failed")}</th>
          <th scope="col">${t("reports.failureRate")}</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          ([name, c]) =>
            html`<tr>
              <th scope="row">${name}</th>
              <td>${c.total}</td>
              <td>${c.succeeded}</td>
              <td>${c.failed}</td>
              <td>${percent(c.failureRate)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
