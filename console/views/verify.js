/**
 * Verify: the server recomputes every leaf, root and signature of the log and names each
 * entry that was changed, dropped, reordered or inserted; its progress streams as it goes.
 * The page then checks on its own that the latest checkpoint is signed by a pinned key and
 * has the root the report states, so a server cannot report "ok" for another tree.
 */
import { html, useState } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { pinnedKeys, routeHref } from "../state.js";
import { ErrorNote } from "../ui.js";
import { checkKeyOfOrigin, parseCheckpoint, toBase64, verifyNote } from "../verify.js";

export function VerifyView({ api, tenant }) {
  const [stream, setStream] = useState("events");
  const [trusted, setTrusted] = useState("");
  const [progress, setProgress] = useState(null);
  const [report, setReport] = useState(null);
  const [pinned, setPinned] = useState(null);
  const [error, setError] = useState(null);
  const [running, setRunning] = useState(false);

  async function run(e) {
    e.preventDefault();
    setRunning(true);
    setError(null);
    setReport(null);
    setPinned(null);
    setProgress({ done: 0, total: 0 });
    try {
      let result = null;
      await api.stream(
        tenantPath(tenant, "verify"),
        { stream, ...(trusted.trim() !== "" ? { trusted: trusted.trim() + "\n" } : {}) },
        (line) => {
          if (line.progress) setProgress(line.progress);
          if (line.error) throw Object.assign(new Error(line.error.message), line.error);
          if (line.report) result = line.report;
        },
      );
      // A stream cut before its report (a proxy's timeout, a server stopped) says so.
      if (result === null) throw new Error(t("verify.noReport"));
      setReport(result);
      // The API serves the events log's checkpoints only: the access log's report is the
      // server's word, and the page says so.
      setPinned(
        stream === "events" ? await checkPinned(api, tenant, result) : { state: "serverOnly" },
      );
    } catch (err) {
      setError(err);
    } finally {
      setRunning(false);
    }
  }

  return html`<section aria-labelledby="verify-title">
    <h1 id="verify-title">${t("verify.title")}</h1>
    <form class="filters" onSubmit=${run}>
      <label
        >${t("verify.stream")}
        <select value=${stream} onChange=${(e) => setStream(e.currentTarget.value)}>
          <option value="events">${t("verify.events")}</option>
          <option value="access">${t("verify.access")}</option>
        </select>
      </label>
      <label class="wide"
        >${t("verify.trusted")}
        <textarea
          rows="3"
          spellcheck="false"
          value=${trusted}
          onInput=${(e) => setTrusted(e.currentTarget.value)}
        ></textarea>
      </label>
      <button type="submit" disabled=${running}>${t("verify.run")}</button>
    </form>
    ${
      progress !== null && running
        ? html`<p>
            <label for="verify-progress">${t("verify.progress", progress)}</label>${" "}
            <progress
              id="verify-progress"
              max=${progress.total || 1}
              value=${progress.done}
            ></progress>
          </p>`
        : null
    }
    <${ErrorNote} error=${error} />
    ${report ? html`<${Report} tenant=${tenant} report=${report} pinned=${pinned} />` : null}
  </section>`;
}

/** The latest checkpoint checked against the pinned keys, and its root against the report's. */
async function checkPinned(api, tenant, report) {
  const pins = pinnedKeys(tenant);
  if (pins.length === 0) return { state: "unpinned" };
  try {
    const note = await api.text(tenantPath(tenant, "checkpoint"), { size: report.verifiedSize });
    const signed = await verifyNote(note, pins);
    const cp = parseCheckpoint(signed.body);
    // The tenant's events log, the one the report is about, at the size it verified.
    checkKeyOfOrigin(cp.origin, signed.keyName, "events");
    if (
      cp.origin !== report.origin ||
      toBase64(cp.rootHash) !== report.root ||
      cp.size !== report.verifiedSize
    ) {
      return { state: "failed", message: t("verify.rootMismatch") };
    }
    return { state: "verified", key: signed.keyName, size: cp.size };
  } catch (e) {
    return { state: "failed", message: e.message };
  }
}

function Report({ tenant, report, pinned }) {
  return html`<div>
    <div
      class=${`badge badge-${report.ok ? "verified" : "failed"}`}
      role="status"
      data-verify=${report.ok ? "ok" : "failed"}
    >
      <strong
        >${report.ok ? t("verify.ok") : t("verify.failed", { n: report.problems.length })}</strong
      >
      <span
        >${t("verify.summary", { entries: report.entries, checkpoints: report.checkpoints, size: report.verifiedSize })}</span
      >
      ${report.root ? html`<span class="mono root">${report.root}</span>` : null}
      ${report.purged ? html`<span>${t("verify.purged", { n: report.purged.entries })}</span>` : null}
      ${
        report.trustedSize !== undefined
          ? html`<span>${t("verify.trustedOk", { size: report.trustedSize })}</span>`
          : null
      }
    </div>
    ${
      pinned
        ? html`<div
            class=${`badge badge-${pinned.state}`}
            role="status"
            data-pinned=${pinned.state}
          >
            <strong
              >${t(`verify.pinned.${pinned.state}`, { size: pinned.size, key: pinned.key })}</strong
            >
            ${pinned.message ? html`<span class="detail">${pinned.message}</span>` : null}
          </div>`
        : null
    }
    ${
      report.problems.length > 0
        ? html`<h2>${t("verify.findings")}</h2>
            <table class="findings">
              <thead>
                <tr>
                  <th scope="col">${t("verify.kind")}</th>
                  <th scope="col">${t("verify.entry")}</th>
                  <th scope="col">${t("verify.message")}</th>
                </tr>
              </thead>
              <tbody>
                ${report.problems.map(
                  (p) =>
                    html`<tr>
                      <td>${p.kind}</td>
                      <td>
                        ${
                          p.index !== undefined
                            ? p.id
                              ? html`<a href=${routeHref({ tenant, view: "events", arg: p.id })}
                                  >#${p.index}</a
                                >`
                              : `#${p.index}`
                            : p.size !== undefined
                              ? t("verify.checkpointAt", { size: p.size })
                              : "—"
                        }
                      </td>
                      <td>${p.message}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
  </div>`;
}
