/**
 * One record, and its proof checked here, in the browser: the server sends the record with
 * its inclusion proof and signed checkpoint, and the page recomputes the leaf from the record
 * it shows (RFC 8785, SHA-256), walks the path to the root, and checks the checkpoint's
 * Ed25519 signature against the key the user pinned. A server that altered the record, the
 * proof or the checkpoint fails the badge.
 */
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { pinKeys, pinnedKeys, routeHref } from "../state.js";
import { ErrorNote, Json, Time, useLoad } from "../ui.js";
import { checkRecordProof } from "../verify.js";
import { lastList } from "./events.js";

export function RecordView({ api, tenant, route }) {
  const [data, error, loading] = useLoad(
    () => api.get(tenantPath(tenant, `events/${encodeURIComponent(route.arg)}`), { proof: true }),
    [tenant, route.arg],
  );
  return html`<section aria-labelledby="record-title">
    <p>
      <a
        href=${routeHref({
          tenant,
          view: "events",
          query: lastList.tenant === tenant ? lastList.query : {},
        })}
        >← ${t("record.back")}</a
      >
    </p>
    <h1 id="record-title">${t("record.title")} ${data ? `#${data.record.seq}` : ""}</h1>
    <${ErrorNote} error=${error} />
    ${loading ? html`<p role="status">${t("common.loading")}</p>` : null}
    ${
      data
        ? html`<${ProofBadge}
              api=${api}
              tenant=${tenant}
              record=${data.record}
              proof=${data.proof}
              asked=${route.arg}
            />
            <${RecordDetail} record=${data.record} />`
        : null
    }
  </section>`;
}

/** The record's fields, its redactions and its envelope, all as text. */
export function RecordDetail({ record, revealed }) {
  const rows = [
    ["field.id", html`<span class="mono">${record.id}</span>`],
    ["field.seq", record.seq],
    ["field.ts", html`<${Time} value=${record.ts} />`],
    ["field.occurredAt", html`<${Time} value=${record.occurredAt} />`],
    ["field.type", record.type],
    ["field.status", t(`status.${record.status}`, {}, record.status)],
    ["field.sector", record.sector ?? "—"],
    ["field.actor", html`<span class="mono">${record.actor ?? "—"}</span>`],
    ["field.tenant", record.tenant],
  ];
  return html`<div class="record">
    <dl class="fields">
      ${rows.map(
        ([k, v]) =>
          html`<dt>${t(k)}</dt>
            <dd>${v}</dd>`,
      )}
    </dl>
    <h2>${t("field.meta")}</h2>
    <${Json} value=${record.meta ?? {}} />
    ${
      record.artifacts?.length > 0
        ? html`<h2>${t("field.artifacts")}</h2>
            <table>
              <thead>
                <tr>
                  <th scope="col">${t("field.name")}</th>
                  <th scope="col">${t("field.digest")}</th>
                  <th scope="col">${t("field.size")}</th>
                </tr>
              </thead>
              <tbody>
                ${record.artifacts.map(
                  (a) =>
                    html`<tr>
                      <td>${a.name ?? "—"}</td>
                      <td class="mono">${a.digest}</td>
                      <td>${a.size ?? "—"}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
        : null
    }
    <h2>${t("field.redactions")}</h2>
    ${
      record.redactions.length === 0
        ? html`<p class="muted">${t("record.noRedactions")}</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">${t("field.path")}</th>
                <th scope="col">${t("field.rule")}</th>
                <th scope="col">${t("field.action")}</th>
              </tr>
            </thead>
            <tbody>
              ${record.redactions.map(
                (x) =>
                  html`<tr>
                    <td class="mono">${x.path}</td>
                    <td>${x.rule}</td>
                    <td>${t(`action.${x.action}`, {}, x.action)}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
    <h2>${t("field.personalData")}</h2>
    ${
      revealed !== undefined
        ? html`<p>${t("record.revealed")}</p>
            <${Json} value=${revealed} />`
        : record.pii
          ? html`<p>${t("record.encrypted", { kid: record.pii.kid })}</p>`
          : html`<p class="muted">${t("record.noPii")}</p>`
    }
  </div>`;
}

/** Green when the page itself verified the record against a pinned key; red, saying why, otherwise. */
export function ProofBadge({ api, tenant, record, proof, asked }) {
  const [pins, setPins] = useState(pinnedKeys(tenant));
  const [result, setResult] = useState({ state: "checking" });
  useEffect(() => {
    if (pins.length === 0) {
      setResult({ state: "unpinned" });
      return;
    }
    let live = true;
    setResult({ state: "checking" });
    checkRecordProof(record, proof, pins, { tenant, id: asked }).then(
      (ok) => live && setResult({ state: "verified", ok }),
      (e) => live && setResult({ state: "failed", error: e }),
    );
    return () => {
      live = false;
    };
  }, [record, proof, pins.join("\n")]);

  return html`<div
    class=${`badge badge-${result.state}`}
    role="status"
    aria-live="polite"
    data-proof=${result.state}
  >
    <strong>${t(`proof.${result.state}`)}</strong>
    ${
      result.state === "verified"
        ? html`<span
              >${t("proof.verifiedDetail", { seq: record.seq, size: result.ok.treeSize, key: result.ok.keyName })}</span
            >
            <span class="mono root" title=${t("proof.root")}>${result.ok.rootHash}</span>`
        : null
    }
    ${
      result.state === "failed"
        ? html`<span>${t(`proof.rule.${result.error.rule}`, {}, "")}</span>
            <span class="detail">${result.error.message}</span>`
        : null
    }
    ${result.state === "unpinned" ? html`<${PinFromServer} api=${api} tenant=${tenant} onPinned=${setPins} />` : null}
  </div>`;
}

/** No key pinned: offer the server's, said plainly to be trust on first use. */
function PinFromServer({ api, tenant, onPinned }) {
  const [key, setKey] = useState(null);
  const [error, setError] = useState(null);
  return html`<div class="pin">
    <p>${t("proof.unpinnedHelp")}</p>
    ${
      key === null
        ? html`<button
            type="button"
            onClick=${() => api.get(tenantPath(tenant, "key")).then((k) => setKey(k), setError)}
          >
            ${t("proof.fetchKey")}
          </button>`
        : html`<p class="mono">${key.verifierKey}</p>
            <p class="warn">${t("proof.tofu")}</p>
            <button
              type="button"
              onClick=${() => {
                const all = key.keys?.map((k) => k.verifierKey) ?? [key.verifierKey];
                pinKeys(tenant, all.join("\n"));
                onPinned(all);
              }}
            >
              ${t("proof.pin")}
            </button>`
    }
    <${ErrorNote} error=${error} />
  </div>`;
}
