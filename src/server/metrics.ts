/**
 * Prometheus metrics of one server (prom-client, in a registry of its own so that two
 * servers in one process do not mix): requests, appended events, batch sizes, append and
 * proof latency, denials. No label carries a tenant, a principal or a path parameter.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { FollowerSummary } from "../genlog.js";
import type { FollowerRunner } from "../log/followers.js";

/** What the metrics read of the followers a server runs. */
export interface FollowerMetricsSource {
  runner: FollowerRunner;
  summary(): Promise<FollowerSummary>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "genlog_http_requests_total",
    help: "HTTP requests by route, method and status",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });
  readonly appended = new Counter({
    name: "genlog_events_appended_total",
    help: "Events acknowledged as durable (idempotent repeats included)",
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "genlog_append_batch_size",
    help: "Events per POST events request",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly appendSeconds = new Histogram({
    name: "genlog_append_seconds",
    help: "From a POST events request's body to its durable commit (group commit included)",
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  readonly proofSeconds = new Histogram({
    name: "genlog_proof_seconds",
    help: "Time to build and check an inclusion or consistency proof",
    labelNames: ["kind"] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly denials = new Counter({
    name: "genlog_denials_total",
    help: "Requests refused: unauthenticated (401) or forbidden (403)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  constructor(hookFailures: () => number, followers?: FollowerMetricsSource) {
    collectDefaultMetrics({ register: this.registry, prefix: "genlog_process_" });
    if (followers !== undefined) this.#followerMetrics(followers);
    let counted = 0;
    new Counter({
      name: "genlog_hook_failures_total",
      help: "Hook calls that threw or rejected (the event itself is durable and unaffected)",
      registers: [this.registry],
      collect() {
        const now = hookFailures();
        if (now > counted) this.inc(now - counted);
        counted = now;
      },
    });
  }

  /**
   * Followers, summed over tenants (no label names a tenant or a follower: `genlog followers
   * list` has the detail): what the runner did, and where the followers stand.
   */
  #followerMetrics(source: FollowerMetricsSource): void {
    const reported = { delivered: 0, skipped: 0, failed: 0, deadLettered: 0 };
    new Counter({
      name: "genlog_follower_records_total",
      help: "Records the followers handled, by outcome: delivered, skipped (filtered out or purged), failed (a try that will be retried), dead_letter",
      labelNames: ["outcome"] as const,
      registers: [this.registry],
      collect() {
        const now = source.runner.totals;
        for (const [key, outcome] of [
          ["delivered", "delivered"],
          ["skipped", "skipped"],
          ["failed", "failed"],
          ["deadLettered", "dead_letter"],
        ] as const) {
          if (now[key] > reported[key]) this.inc({ outcome }, now[key] - reported[key]);
          reported[key] = now[key];
        }
      },
    });
    let pending: Promise<FollowerSummary> | undefined;
    // One summary per scrape, shared by the gauges below.
    const summary = () => {
      pending ??= source.summary().finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    const gauge = (name: string, help: string, pick: (s: FollowerSummary) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(pick(await summary()));
        },
      });
    gauge("genlog_followers", "Followers, every tenant's", (s) => s.followers);
    gauge(
      "genlog_follower_lag_records",
      "Committed records the followers have not handed over yet, in all",
      (s) => s.behind,
    );
    gauge(
      "genlog_followers_retrying",
      "Followers waiting to try a record again (a failing or unreachable receiver)",
      (s) => s.retrying,
    );
    gauge("genlog_followers_disabled", "Followers a 410 Gone stopped", (s) => s.disabled);
    gauge("genlog_follower_dead_letters", "Records followers gave up on", (s) => s.deadLetters);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
