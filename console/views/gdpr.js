/**
 * GDPR, for a DPO: find a subject, see their records decrypted (each one's proof checked
 * here against the pinned key), download the same verifiable export as `genlog subject
 * export`, erase them with a reason and a confirmation, and set or release legal holds. The
 * person's id travels in request bodies only, never in a URL.
 */
import { html, useState } from "../vendor/preact-htm.js";
import { tenantPath } from "../api.js";
import { t } from "../i18n.js";
import { pinnedKeys } from "../state.js";
import { ErrorNote, Time, useLoad } from "../ui.js";
import { checkRecordProof, checkRevealed } from "../verify.js";
import { RecordDetail } from "./record.js";

const PSEUDONYM = /^sub_[a-z2-7]{26}$/;

/** `{subject}` or `{pseudonym}`, as the user typed one or the other. */
function selector(who) {
  const v = who.trim();
  return PSEUDONYM.test(v) ? { pseudonym: v } : { subject: v };
}

export function GdprView({ api, tenant }) {
  const [who, setWho] = useState("");
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [holdsVersion, setHoldsVersion] = useState(0);
  const [erased, setErased] = useState(null);

  async function find(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFound(null);
    setErased(null);
    try {
      const exported = await api.post(tenantPath(tenant, "subjects/export"), selector(who));
      setFound({ who: who.trim(), exported, checks: await checkExport(tenant, exported) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return html`<section aria-labelledby="gdpr-title">
    <h1 id="gdpr-title">${t("gdpr.title")}</h1>
    <form class="filters" onSubmit=${find}>
      <label
        >${t("gdpr.subject")}
        <input
          name="subject"
          required
          value=${who}
          autocomplete="off"
          onInput=${(e) => setWho(e.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled=${busy}>${t("gdpr.find")}</button>
    </form>
    <p class="hint">${t("gdpr.subjectHint")}</p>
    <${ErrorNote} error=${error} />
    ${
      erased
        ? html`<p class="ok" role="status">
            ${t("gdpr.erased", { pseudonyms: erased.pseudonyms.join(", "), seq: erased.record.seq })}
          </p>`
        : null
    }
    ${
      found
        ? html`<${Subject}
            api=${api}
            tenant=${tenant}
            found=${found}
            onChanged=${() => setHoldsVersion(holdsVersion + 1)}
            onErased=${(result) => {
              // The person's decrypted data leaves the screen with their key.
              setFound(null);
              setErased(result);
              setHoldsVersion(holdsVersion + 1);
            }}
          />`
        : null
    }
    <${Holds} api=${api} tenant=${tenant} version=${holdsVersion} />
    <${HoldForm}
      api=${api}
      tenant=${tenant}
      who=""
      onChanged=${() => setHoldsVersion(holdsVersion + 1)}
    />
  </section>`;
}

/**
 * Checks every exported record against the pinned keys (its proof) and against its committed
 * envelope (what it shows decrypted): `[{seq, ok, error}]`.
 */
async function checkExport(tenant, exported) {
  const pins = pinnedKeys(tenant);
  if (pins.length === 0) return null;
  const size = Number(exported.checkpoint.split("\n")[1]);
  const keys = new Map(exported.subject.keys.map((k) => [k.pseudonym, k.dataKey]));
  return Promise.all(
    exported.records.map(async (item) => {
      const proof = {
        origin: exported.origin,
        leafIndex: item.record.seq,
        treeSize: size,
        hashes: item.proof,
        checkpoint: exported.checkpoint,
      };
      try {
        await checkRecordProof(item.record, proof, pins, { tenant });
        await checkRevealed(item.record, item.revealed, keys.get(item.record.actor) ?? "");
        return { seq: item.record.seq, ok: true };
      } catch (e) {
        return { seq: item.record.seq, ok: false, error: e };
      }
    }),
  );
}

function Subject({ api, tenant, found, onChanged, onErased }) {
  const { exported, checks } = found;
  const failed = checks?.filter((c) => !c.ok) ?? [];
  const download = () => {
    const blob = new Blob([JSON.stringify(exported, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `subject-export-${tenant}-${exported.exportedAt.replace(/[:.]/g, "-")}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  return html`<div class="subject">
    <h2>${t("gdpr.records", { n: exported.records.length })}</h2>
    <p>
      ${t("gdpr.pseudonyms")}
      ${exported.subject.keys.map((k) => html`<span class="mono chip">${k.pseudonym}</span> `)}
    </p>
    <div
      class=${`badge badge-${checks === null ? "unpinned" : failed.length === 0 ? "verified" : "failed"}`}
      role="status"
      data-proof=${checks === null ? "unpinned" : failed.length === 0 ? "verified" : "failed"}
    >
      <strong
        >${checks === null ? t("proof.unpinned") : failed.length === 0 ? t("gdpr.allVerified", { n: checks.length }) : t("gdpr.someFailed", { n: failed.length })}</strong
      >
      ${failed.map((f) => html`<span class="detail">#${f.seq}: ${f.error.message}</span>`)}
    </div>
    <p>
      <button type="button" onClick=${download}>${t("gdpr.download")}</button>
      <span class="hint"> ${t("gdpr.downloadHint")}</span>
    </p>
    ${exported.records.map(
      (item) =>
        html`<details class="subject-record">
          <summary>
            #${item.record.seq} · ${item.record.type} · <${Time} value=${item.record.ts} />
          </summary>
          <${RecordDetail} record=${item.record} revealed=${item.revealed} />
        </details>`,
    )}
    <${Erase} api=${api} tenant=${tenant} who=${found.who} onErased=${onErased} />
    <${HoldForm} api=${api} tenant=${tenant} who=${found.who} onChanged=${onChanged} />
  </div>`;
}

function Erase({ api, tenant, who, onErased }) {
  const [reason, setReason] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      onErased(await api.post(tenantPath(tenant, "subjects/erase"), { ...selector(who), reason }));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<form class="danger" onSubmit=${submit} aria-labelledby="erase-title">
    <h2 id="erase-title">${t("gdpr.erase")}</h2>
    <p>${t("gdpr.eraseHelp")}</p>
    <label for="erase-reason">${t("gdpr.reason")}</label>
    <input
      id="erase-reason"
      required
      maxlength="1000"
      value=${reason}
      onInput=${(e) => setReason(e.currentTarget.value)}
    />
    <label for="erase-confirm">${t("gdpr.confirm", { who })}</label>
    <input
      id="erase-confirm"
      autocomplete="off"
      value=${confirm}
      onInput=${(e) => setConfirm(e.currentTarget.value)}
    />
    <button
      type="submit"
      class="danger"
      disabled=${confirm.trim() !== who || reason.trim() === "" || busy}
    >
      ${t("gdpr.eraseButton")}
    </button>
    <${ErrorNote} error=${error} />
  </form>`;
}

/** Sets or releases a hold on the subject found (`who`), or on the whole tenant (`who` empty). */
function HoldForm({ api, tenant, who, onChanged }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const id = who ? "hold-reason" : "tenant-hold-reason";
  const act = (path) => async () => {
    setError(null);
    setDone(null);
    try {
      await api.post(tenantPath(tenant, path), { ...(who ? selector(who) : {}), reason });
      setDone(path === "holds" ? "gdpr.holdSet" : "gdpr.holdReleased");
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="hold-form">
    <h2>${t(who ? "gdpr.hold" : "gdpr.tenantHold")}</h2>
    <label for=${id}>${t("gdpr.reason")}</label>
    <input
      id=${id}
      maxlength="1000"
      value=${reason}
      onInput=${(e) => setReason(e.currentTarget.value)}
    />
    <button type="button" disabled=${reason.trim() === ""} onClick=${act("holds")}>
      ${t("gdpr.setHold")}
    </button>
    <button type="button" disabled=${reason.trim() === ""} onClick=${act("holds/release")}>
      ${t("gdpr.releaseHold")}
    </button>
    ${done ? html`<p class="ok" role="status">${t(done)}</p>` : null}
    <${ErrorNote} error=${error} />
  </div>`;
}

export function Holds({ api, tenant, version }) {
  const [holds, error] = useLoad(() => api.get(tenantPath(tenant, "holds")), [tenant, version]);
  return html`<div>
    <h2>${t("gdpr.holds")}</h2>
    <${ErrorNote} error=${error} />
    ${
      holds === undefined
        ? null
        : holds.length === 0
          ? html`<p class="muted">${t("gdpr.noHolds")}</p>`
          : html`<ul>
              ${holds.map(
                (h) =>
                  html`<li>
                    <span class="mono">${h.pseudonym ?? t("gdpr.wholeTenant")}</span>
                    ${` — ${String(h.reason ?? "")}`}
                    <span class="muted"> (#${h.seq}, <${Time} value=${h.since} />)</span>
                  </li>`,
              )}
            </ul>`
    }
  </div>`;
}
