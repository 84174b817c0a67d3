/** Small pieces the views share: errors, dates, JSON, a chart. Values always render as text. */
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { t, lang } from "./i18n.js";

/** An API or check failure, said in the user's language with the server's code. */
export function ErrorNote({ error }) {
  if (error === null || error === undefined) return null;
  const code = error.code ?? null;
  const known = code !== null ? t(`error.${code}`, {}, null) : null;
  return html`<div class="error" role="alert">
    <strong>${known ?? t("error.generic")}</strong>
    ${code !== null ? html` <code>${code}</code>` : null}
    <div class="detail">${error.message}</div>
  </div>`;
}

/** A time as the user reads it, with the exact UTC value on hover. */
export function Time({ value }) {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  const d = new Date(value);
  const text = Number.isNaN(d.getTime())
    ? String(value)
    : d.toLocaleString(lang(), { dateStyle: "medium", timeStyle: "medium" });
  return html`<time datetime=${String(value)} title=${String(value)}>${text}</time>`;
}

/** Any JSON value, indented, as text. */
export function Json({ value }) {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

/** `datetime-local` input value → RFC 3339 UTC, or "" when empty. */
export function toRfc3339(local) {
  if (local === "" || local === undefined) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** RFC 3339 → the value a `datetime-local` input shows (local time). */
export function toLocalInput(rfc3339) {
  if (!rfc3339) return "";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * A time-series chart (uPlot, loaded by the page): `days` as `YYYY-MM-DD`, `series` as
 * `{label, values, color}`. A table of the same figures follows it for screen readers.
 */
export function Chart({ title, days, series }) {
  const box = useRef(null);
  useEffect(() => {
    const uPlot = globalThis.uPlot;
    if (box.current === null || uPlot === undefined || days.length === 0) return undefined;
    const width = Math.max(320, Math.min(box.current.clientWidth || 800, 1100));
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const dayFormat = new Intl.DateTimeFormat(lang(), {
      timeZone: "UTC",
      day: "numeric",
      month: "short",
    });
    const plot = new uPlot(
      {
        width,
        height: 220,
        // The days shown and half a day either side, from the data itself: given one day,
        // uPlot's own range spans years.
        scales: { x: { time: true, range: () => [xs[0] - 43200, xs[xs.length - 1] + 43200] } },
        // Days are UTC days: the axis says UTC times too, whatever the browser's zone.
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        axes: [
          {
            // One tick per day shown (up to a month of them), written in the user's language.
            ...(xs.length <= 31 ? { splits: () => xs } : {}),
            values: (_u, splits) => splits.map((ts) => dayFormat.format(ts * 1000)),
          },
          { size: 48 },
        ],
        series: [
          {
            label: t("chart.day"),
            value: (_u, ts) => (ts == null ? "—" : dayFormat.format(ts * 1000)),
          },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            points: { show: days.length < 40, size: 7 },
          })),
        ],
      },
      [xs, ...series.map((s) => s.values)],
      box.current,
    );
    return () => plot.destroy();
  }, [days, series]);
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div ref=${box} aria-hidden="true"></div>
    <details>
      <summary>${t("chart.table")}</summary>
      <table>
        <thead>
          <tr>
            <th scope="col">${t("chart.day")}</th>
            ${series.map((s) => html`<th scope="col">${s.label}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${days.map(
            (d, i) =>
              html`<tr>
                <th scope="row">${d}</th>
                ${series.map((s) => html`<td>${s.values[i]}</td>`)}
              </tr>`,
          )}
        </tbody>
      </table>
    </details>
  </figure>`;
}

/** Loads once per key change: `[value, error, loading]`. */
export function useLoad(load, deps) {
  const [state, setState] = useState([undefined, null, true]);
  useEffect(() => {
    let live = true;
    setState([undefined, null, true]);
    load().then(
      (v) => live && setState([v, null, false]),
      (e) => live && setState([undefined, e, false]),
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}
