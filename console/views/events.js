/**
 * Events: the library's filters (type, actor, sector, status, time window) and cursor paging,
 * all in the URL, so a view can be bookmarked and the back button steps back a page. The
 * server pages by seq, so a page costs the same at the millionth record as at the first.
 */
import { html, useState } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { routeHref } from "../state.js";
import { ErrorNote, Time, toLocalInput, toRfc3339, useLoad } from "../ui.js";
import { formKey } from "./window.js";

const FILTERS = ["type", "actor", "sector", "status", "since", "until"];
const SECTORS = ["health", "education", "ecommerce"];
const PAGE = 50;

/** The list a record was opened from, so that "← Events" goes back to that page. */
export let lastList = { tenant: "", query: {} };

export function EventsView({ api, tenant, route }) {
  const query = route.query;
  lastList = { tenant, query };
  const [page, error, loading] = useLoad(
    () =>
      api.get(tenantPath(tenant, "events"), {
        ...Object.fromEntries(FILTERS.map((f) => [f, query[f]])),
        cursor: query.cursor,
        limit: PAGE,
      }),
    [tenant, location.hash],
  );
  const go = (q) => (location.hash = routeHref({ tenant, view: "events", query: q }));

  return html`<section aria-labelledby="events-title">
    <h1 id="events-title">${t("events.title")}</h1>
    <${Filters} key=${formKey(query)} query=${query} onApply=${(q) => go(q)} />
    <${ErrorNote} error=${error} />
    ${loading ? html`<p role="status">${t("common.loading")}</p>` : null}
    ${
      page !== undefined
        ? html`<${Table} tenant=${tenant} records=${page.records} afterFirst=${!!query.cursor} />
            <nav class="pager" aria-label=${t("events.pages")}>
              ${
                query.cursor
                  ? html`<button type="button" onClick=${() => history.back()}>
                        ${t("events.previous")}
                      </button>
                      <button type="button" onClick=${() => go({ ...query, cursor: "" })}>
                        ${t("events.first")}
                      </button>`
                  : null
              }
              ${
                page.nextCursor !== null
                  ? html`<button
                      type="button"
                      onClick=${() => go({ ...query, cursor: page.nextCursor })}
                    >
                      ${t("events.next")}
                    </button>`
                  : html`<span class="muted">${t("events.end")}</span>`
              }
            </nav>`
        : null
    }
  </section>`;
}

function Filters({ query, onApply }) {
  const [f, setF] = useState({
    ...Object.fromEntries(FILTERS.map((k) => [k, query[k] ?? ""])),
    since: toLocalInput(query.since),
    until: toLocalInput(query.until),
  });
  const set = (k) => (e) => setF({ ...f, [k]: e.currentTarget.value });
  const submit = (e) => {
    e.preventDefault();
    onApply({ ...f, since: toRfc3339(f.since), until: toRfc3339(f.until), cursor: "" });
  };
  return html`<form class="filters" onSubmit=${submit} aria-label=${t("events.filters")}>
    <label>${t("field.type")}<input name="type" value=${f.type} onInput=${set("type")} /></label>
    <label
      >${t("field.actor")}<input
        name="actor"
        value=${f.actor}
        placeholder="sub_…"
        pattern="sub_[a-z2-7]{26}"
        onInput=${set("actor")}
    /></label>
    <label
      >${t("field.sector")}<input
        name="sector"
        list="sectors"
        value=${f.sector}
        onInput=${set("sector")}
    /></label>
    <datalist id="sectors">${SECTORS.map((s) => html`<option value=${s} />`)}</datalist>
    <label
      >${t("field.status")}
      <select name="status" value=${f.status} onChange=${set("status")}>
        <option value="">${t("common.any")}</option>
        ${["started", "succeeded", "failed"].map((s) => html`<option value=${s}>${t(`status.${s}`)}</option>`)}
      </select>
    </label>
    <label
      >${t("field.since")}<input
        name="since"
        type="datetime-local"
        value=${f.since}
        onInput=${set("since")}
    /></label>
    <label
      >${t("field.until")}<input
        name="until"
        type="datetime-local"
        value=${f.until}
        onInput=${set("until")}
    /></label>
    <button type="submit">${t("events.apply")}</button>
  </form>`;
}

function Table({ tenant, records, afterFirst }) {
  if (records.length === 0) {
    // The page after a full last page is empty: the end of the list, not a filter's miss.
    return html`<p class="empty" role="status">${t(afterFirst ? "events.end" : "events.none")}</p>`;
  }
  return html`<table class="records">
    <caption class="sr-only">
      ${t("events.title")}
    </caption>
    <thead>
      <tr>
        <th scope="col">#</th>
        <th scope="col">${t("field.ts")}</th>
        <th scope="col">${t("field.type")}</th>
        <th scope="col">${t("field.sector")}</th>
        <th scope="col">${t("field.status")}</th>
        <th scope="col">${t("field.actor")}</th>
        <th scope="col">${t("field.redactions")}</th>
      </tr>
    </thead>
    <tbody>
      ${records.map(
        (r) =>
          html`<tr>
            <td><a href=${routeHref({ tenant, view: "events", arg: r.id })}>${r.seq}</a></td>
            <td><${Time} value=${r.ts} /></td>
            <td>${r.type}</td>
            <td>${r.sector ?? "—"}</td>
            <td>
              <span class=${`status status-${r.status}`}
                >${t(`status.${r.status}`, {}, r.status)}</span
              >
            </td>
            <td class="mono">${r.actor ?? "—"}</td>
            <td>${r.redactions.length}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
