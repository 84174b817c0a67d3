/**
 * The `report` follower: once per period (an hour, a day or a week, in UTC), a report of the
 * tenant's activity over the period that just ended: generations by type, sector, status and
 * day, failure rates, redactions, the most active (pseudonymous) actors, and the access log's
 * principals and anomalies; with the latest signed checkpoint, so the report is anchored in the
 * log it describes. Its cursor counts periods instead of records: a period is reported once it
 * ended (and a minute more, for the commits under way), at least once, in order, retried and
 * dead-lettered like a record.
 *
 * Delivered to `url` as a Standard Webhooks POST (signed like the `webhook` kind), or, with no
 * `url`, written as `<followers directory>/<tenant>/<name>/<start of the period>.json`.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DeliveryOutcome, FollowerKind, PeriodDelivery } from "../log/followers.js";
import type { GenerationReport } from "../log/generation-report.js";
import type { AccessReport } from "../log/access-log.js";
import { writeFileDurably } from "../log/sync-path.js";
import { checkUrl, deliverByPost } from "./outbound.js";
import { enumOption, optionsObject } from "./options.js";
import { signatureHeaders, webhookFollower } from "./webhook.js";

export const REPORT_PERIODS = ["hour", "day", "week"] as const;
export type ReportPeriod = (typeof REPORT_PERIODS)[number];

/** The length of each period, in ms (the `ipfs` kind uses the same periods). */
export const PERIOD_MS: Record<ReportPeriod, number> = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};

/** A report follower's options. */
export interface ReportConfig {
  /** Default `day`. Weeks start on Thursday 00:00 UTC, as the Unix epoch did. */
  period: ReportPeriod;
  /** Where to POST each report; without one, reports are files. */
  url?: string;
}

/** The body of one report. */
export interface TenantReport {
  type: "genlog.report";
  tenant: string;
  origin: string;
  period: ReportPeriod;
  /** The period: `from` included, `until` excluded (RFC 3339, UTC). */
  from: string;
  until: string;
  generations: GenerationReport;
  access: AccessReport;
  /** The latest signed checkpoint of the events log when the report was made. */
  checkpoint: string | null;
}

export const reportFollower: FollowerKind<ReportConfig> = {
  kind: "report",
  secret: "optional",
  secretForm: webhookFollower.secretForm!,

  describe(config) {
    const every = { hour: "hourly", day: "daily", week: "weekly" }[config.period];
    return `${every} report ${config.url !== undefined ? `POSTed to ${config.url}` : "written to files"}`;
  },

  parse(input, network) {
    const o = optionsObject(input ?? {}, ["period", "url"]);
    const period = enumOption(o.period, "/config/period", REPORT_PERIODS, "day");
    return o.url === undefined
      ? { period }
      : { period, url: checkUrl(o.url, "/config/url", network).href };
  },

  needsSecret: (config) => config.url !== undefined,

  checkSecret(secret) {
    webhookFollower.checkSecret!(secret);
  },

  periodMs: (config) => PERIOD_MS[config.period],

  // Periods, not records, are handed to it.
  wants: () => false,
  deliver: () => Promise.resolve({ ok: true }),

  async deliverPeriod(d: PeriodDelivery<ReportConfig>): Promise<DeliveryOutcome> {
    const made = await d.report();
    const report: TenantReport = {
      type: "genlog.report",
      tenant: d.tenant,
      origin: d.origin,
      period: d.config.period,
      from: d.from,
      until: d.until,
      ...made,
    };
    const body = JSON.stringify(report);
    if (d.config.url !== undefined) {
      // One id per follower and period: a receiver deduplicates the retries.
      const id = `rpt_${d.id}_${d.index}`;
      return deliverByPost(
        { config: { url: d.config.url }, signal: d.signal, network: d.network },
        {
          "content-type": "application/json",
          "user-agent": "genlog-report",
          ...signatureHeaders(d.secret!, id, Math.floor(Date.now() / 1000), body),
        },
        body,
      );
    }
    const dir = join(d.filesDir, d.tenant, d.name);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileDurably(dir, `${d.from.replace(/[-:.]/g, "")}.json`, `${body}\n`);
      return { ok: true };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      return { ok: false, unreachable: true, error: `could not write to ${dir} (${code})` };
    }
  },
};
