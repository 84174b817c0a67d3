/** The time window of a report, kept in the URL (`since`, `until`). */
import { html, useState } from "../vendor/preact-htm.js";
import { t } from "../i18n.js";
import { routeHref } from "../state.js";
import { toLocalInput, toRfc3339 } from "../ui.js";

export function WindowForm({ tenant, view, query }) {
  const [since, setSince] = useState(toLocalInput(query.since));
  const [until, setUntil] = useState(toLocalInput(query.until));
  const submit = (e) => {
    e.preventDefault();
    location.hash = routeHref({
      tenant,
      view,
      // A new window starts at its first page.
      query: { ...query, since: toRfc3339(since), until: toRfc3339(until), cursor: "" },
    });
  };
  return html`<form class="filters" onSubmit=${submit} aria-label=${t("window.label")}>
    <label
      >${t("field.since")}<input
        type="datetime-local"
        name="since"
        value=${since}
        onInput=${(e) => setSince(e.currentTarget.value)}
    /></label>
    <label
      >${t("field.until")}<input
        type="datetime-local"
        name="until"
        value=${until}
        onInput=${(e) => setUntil(e.currentTarget.value)}
    /></label>
    <button type="submit">${t("events.apply")}</button>
  </form>`;
}

/**
 * The key a filter form takes, so that it shows the URL's filters again after Back or
 * Forward (its fields are its own state otherwise): the query without its page.
 */
export function formKey(query) {
  return JSON.stringify(Object.entries(query).filter(([k]) => k !== "cursor"));
}

/** `{since, until}` of the route's query, without empty members. */
export function windowOf(query) {
  return { since: query.since || undefined, until: query.until || undefined };
}
