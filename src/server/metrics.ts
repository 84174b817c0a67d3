/**
 * Prometheus metrics of one server (prom-client, in a registry of its own so that two
 * servers in one process do not mix): requests, appended events, batch sizes, append and
 * proof latency, denials. No label carries a tenant, a principal or a path parameter.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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

  constructor(hookFailures: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: "genlog_process_" });
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

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
