/**
 * Plugins: code of the operator's that acts after each generation (notify, synchronise,
 * report). A plugin is a follower like the built-in ones (DESIGN.md §9): each tenant gets a
 * follower row `plugin-<name>` with its own durable cursor, so a plugin sees every committed
 * event at least once, in order, after the ack, and its failures are retried with backoff,
 * then dead-lettered, shown by `followers list`, `retry` and `skip` like any other.
 *
 * A plugin subscribes to events of a fixed list, all read from the tenant's events log:
 * `appended` (a generation), `critical` (a generation marked `meta.critical: true`, or matching
 * a rule of the configuration), `erased` (a person was forgotten: genlog's own erasure
 * record), `purged` (record bodies were purged) and `checkpoint` (a signed checkpoint, after
 * the last record it covers).
 */
import { Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GenlogError } from "../errors.js";
import type { GenerationRecord } from "../core/record.js";
import { SYSTEM_TYPE_PREFIX } from "../core/event-schema.js";
import { SYSTEM_TYPES } from "./system-events.js";
import type { Delivery, DeliveryOutcome, FollowerKind } from "./followers.js";

/** The events a plugin may subscribe to. */
export const PLUGIN_EVENTS = ["appended", "critical", "erased", "purged", "checkpoint"] as const;
export type PluginEventName = (typeof PLUGIN_EVENTS)[number];

/** A record event: what `appended`, `critical`, `erased` and `purged` handlers get. */
export interface RecordEvent {
  event: Exclude<PluginEventName, "checkpoint">;
  tenant: string;
  /** The tenant's events log (`<instance>/<tenant>/events`). */
  origin: string;
  record: GenerationRecord;
  /** The record's leaf hash, hex: what to ask its inclusion proof with. */
  leafHash: string;
  /** 1 for the first try, then 2, 3…: a handler may see an event again, and dedupes by `record.id`. */
  attempt: number;
}

/** A `checkpoint` event: a signed checkpoint, once the records it covers were handed over. */
export interface CheckpointEvent {
  event: "checkpoint";
  tenant: string;
  origin: string;
  /** The tree size it commits to. */
  size: number;
  /** The root hash, base64, as in the note. */
  rootHash: string;
  /** The C2SP signed note, whole: publish it, and outsiders can detect a rewritten history. */
  note: string;
  attempt: number;
}

export type PluginEvent = RecordEvent | CheckpointEvent;
type Handler<E> = (event: E, signal: AbortSignal) => void | Promise<void>;

/**
 * A Standard Schema (https://standardschema.dev): what Zod, Valibot, ArkType and others
 * implement, so that a plugin can check its options with the library it likes.
 */
export interface StandardSchemaV1<O = unknown> {
  readonly "~standard": {
    readonly version: 1;
    readonly validate: (
      value: unknown,
    ) =>
      | { value: O; issues?: undefined }
      | { issues: readonly { message: string; path?: readonly unknown[] }[] }
      | Promise<
          | { value: O; issues?: undefined }
          | { issues: readonly { message: string; path?: readonly unknown[] }[] }
        >;
  };
}

/** What a plugin's `setup` is given. */
export interface PluginContext<O> {
  /** The options of the configuration, checked by the plugin's `options`. */
  options: O;
  /** Subscribes to an event; an unknown event name is refused. */
  on(event: "checkpoint", handler: Handler<CheckpointEvent>): void;
  on(event: Exclude<PluginEventName, "checkpoint">, handler: Handler<RecordEvent>): void;
}

/** A plugin, as its author writes it. */
export interface PluginDefinition<O = unknown> {
  /** A package name (`genlog-plugin-slack`, `@acme/genlog-notify`). */
  name: string;
  version: string;
  /** Checks the options given in the configuration: a Standard Schema, or a function that throws. */
  options?: StandardSchemaV1<O> | ((input: unknown) => O);
  /** Subscribes to events; runs once, when the process starts. */
  setup(ctx: PluginContext<O>): void | Promise<void>;
}

/** A plugin checked by {@link definePlugin}. */
export interface Plugin<O = unknown> extends PluginDefinition<O> {
  readonly genlogPlugin: 1;
}

const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/**
 * Declares a plugin. Checks what can be checked before it runs: its name, version and setup.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming what is wrong.
 */
export function definePlugin<O = unknown>(definition: PluginDefinition<O>): Plugin<O> {
  const d = definition as Partial<PluginDefinition<O>> | null;
  const bad = (what: string) =>
    new GenlogError("GENLOG_E_CONFIG", `definePlugin: ${what}`, {
      details: { plugin: typeof d?.name === "string" ? d.name : null },
    });
  if (d === null || typeof d !== "object") throw bad("expected an object");
  if (typeof d.name !== "string" || d.name.length > 214 || !PACKAGE_NAME.test(d.name)) {
    throw bad(
      `name: expected a package name (lowercase, e.g. genlog-plugin-slack), got ${JSON.stringify(d.name)}`,
    );
  }
  if (typeof d.version !== "string" || d.version.trim() === "" || d.version.length > 64) {
    throw bad(`version: expected a version (e.g. 1.0.0), got ${JSON.stringify(d.version)}`);
  }
  if (typeof d.setup !== "function") throw bad("setup: expected a function");
  if (
    d.options !== undefined &&
    typeof d.options !== "function" &&
    typeof (d.options as Partial<StandardSchemaV1>)["~standard"]?.validate !== "function"
  ) {
    throw bad("options: expected a Standard Schema (Zod, Valibot, ArkType…) or a function");
  }
  return Object.freeze({ ...(d as PluginDefinition<O>), genlogPlugin: 1 as const });
}

/** Records that are `critical` beside those marked `meta.critical: true`; any rule given must match. */
export interface CriticalRule {
  types?: string[];
  statuses?: string[];
  sectors?: string[];
}

const Names = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
  minItems: 1,
  maxItems: 1000,
});
const CriticalRules = TypeCompiler.Compile(
  Type.Array(
    Type.Object(
      {
        types: Type.Optional(Names),
        statuses: Type.Optional(
          Type.Array(
            Type.Union([
              Type.Literal("started"),
              Type.Literal("succeeded"),
              Type.Literal("failed"),
            ]),
            { minItems: 1 },
          ),
        ),
        sectors: Type.Optional(Names),
      },
      { additionalProperties: false, minProperties: 1 },
    ),
    { maxItems: 100 },
  ),
);

/**
 * Checks the rules that make a generation critical.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the field (`/critical/0/statuses/0`).
 */
export function checkCriticalRules(rules: unknown): CriticalRule[] {
  if (!CriticalRules.Check(rules)) {
    const first = CriticalRules.Errors(rules).First();
    const pointer = `/critical${first?.path ?? ""}`;
    throw new GenlogError(
      "GENLOG_E_CONFIG",
      `${pointer}: ${first?.message.toLowerCase() ?? "invalid"} (a rule has types, statuses or sectors)`,
      { details: { pointer } },
    );
  }
  return rules as CriticalRule[];
}

/** Whether a generation is critical: marked so, or matching one of the rules. */
export function isCritical(record: GenerationRecord, rules: readonly CriticalRule[]): boolean {
  if (record.meta.critical === true) return true;
  return rules.some(
    (r) =>
      (r.types === undefined || r.types.includes(record.type)) &&
      (r.statuses === undefined || r.statuses.includes(record.status)) &&
      (r.sectors === undefined || (record.sector !== null && r.sectors.includes(record.sector))),
  );
}

/** A plugin set up: its subscriptions, ready to run as a follower kind. */
export interface ActivePlugin {
  plugin: Plugin;
  /** The follower kind its rows have: `plugin:<name>`. */
  kind: FollowerKind;
  /** The name of its follower in each tenant. */
  followerName: string;
  events: PluginEventName[];
}

/**
 * Checks a plugin's options and runs its setup: at start-up, so that a mistake stops the
 * process before anything is handed over.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the plugin and the option.
 */
export async function activatePlugin(
  plugin: Plugin,
  input: unknown,
  critical: readonly CriticalRule[],
): Promise<ActivePlugin> {
  const options = await checkOptions(plugin, input);
  const handlers = new Map<PluginEventName, Handler<never>[]>();
  const ctx: PluginContext<unknown> = {
    options,
    on(event: string, handler: Handler<never>) {
      if (!(PLUGIN_EVENTS as readonly string[]).includes(event)) {
        throw new GenlogError(
          "GENLOG_E_CONFIG",
          `plugin ${plugin.name}: no event named ${JSON.stringify(event)} (one of ${PLUGIN_EVENTS.join(", ")})`,
          { details: { plugin: plugin.name, event } },
        );
      }
      if (typeof handler !== "function") {
        throw new GenlogError(
          "GENLOG_E_CONFIG",
          `plugin ${plugin.name}: the handler of ${event} is not a function`,
          { details: { plugin: plugin.name, event } },
        );
      }
      const list = handlers.get(event as PluginEventName) ?? [];
      list.push(handler);
      handlers.set(event as PluginEventName, list);
    },
  };
  try {
    await plugin.setup(ctx);
  } catch (cause) {
    if (cause instanceof GenlogError) throw cause;
    throw new GenlogError(
      "GENLOG_E_CONFIG",
      `plugin ${plugin.name}: setup failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, details: { plugin: plugin.name } },
    );
  }
  const events = PLUGIN_EVENTS.filter((e) => handlers.has(e));
  const kind = pluginKind(plugin, events, handlers, critical);
  return { plugin, kind, followerName: followerNameOf(plugin.name), events };
}

/** `@acme/genlog-notify` → `plugin-acme-genlog-notify`: a follower name (a slug). */
export function followerNameOf(pluginName: string): string {
  const slug = pluginName
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .replace(/-{2,}/g, "-");
  return `plugin-${slug}`.slice(0, 63).replace(/-+$/, "");
}

async function checkOptions(plugin: Plugin, input: unknown): Promise<unknown> {
  const fail = (message: string, path?: string) =>
    new GenlogError(
      "GENLOG_E_CONFIG",
      `plugin ${plugin.name}: options${path === undefined || path === "" ? "" : `/${path}`}: ${message}`,
      { details: { plugin: plugin.name, pointer: `/options${path ? `/${path}` : ""}` } },
    );
  const check = plugin.options;
  if (check === undefined) {
    if (input !== undefined && !(isObject(input) && Object.keys(input).length === 0)) {
      throw fail("this plugin takes no options");
    }
    return undefined;
  }
  if (typeof check === "function") {
    try {
      return check(input);
    } catch (e) {
      throw fail(e instanceof Error ? e.message : String(e));
    }
  }
  const result = await check["~standard"].validate(input);
  if (result.issues !== undefined) {
    const [first] = result.issues;
    const path = (first?.path ?? [])
      .map((p) => String(isObject(p) && "key" in p ? p.key : p))
      .join("/");
    throw fail(
      `${first?.message ?? "invalid"}${result.issues.length > 1 ? ` (and ${result.issues.length - 1} more)` : ""}`,
      path,
    );
  }
  return result.value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The events a record raises, in the order their handlers run. */
function eventsOf(
  record: GenerationRecord,
  critical: readonly CriticalRule[],
): Exclude<PluginEventName, "checkpoint">[] {
  if (record.type.startsWith(SYSTEM_TYPE_PREFIX)) {
    if (record.type === SYSTEM_TYPES.erasure) return ["erased"];
    if (record.type === SYSTEM_TYPES.purge) return ["purged"];
    return [];
  }
  return isCritical(record, critical) ? ["appended", "critical"] : ["appended"];
}

function pluginKind(
  plugin: Plugin,
  events: readonly PluginEventName[],
  handlers: ReadonlyMap<PluginEventName, Handler<never>[]>,
  critical: readonly CriticalRule[],
): FollowerKind<Record<string, never>> {
  const label = `plugin ${plugin.name}@${plugin.version} (${events.join(", ") || "no events"})`;
  return {
    kind: `plugin:${plugin.name}`,
    secret: "none",
    describe: () => label,
    parse: () => ({}),
    wants: (_config, record) =>
      handlers.has("checkpoint") || eventsOf(record, critical).some((e) => handlers.has(e)),
    async deliver(d: Delivery<Record<string, never>>): Promise<DeliveryOutcome> {
      const base = { tenant: d.tenant, origin: d.origin, attempt: d.attempt };
      for (const event of eventsOf(d.record, critical)) {
        for (const h of handlers.get(event) ?? []) {
          await (h as Handler<RecordEvent>)(
            { ...base, event, record: d.record, leafHash: d.leafHash },
            d.signal,
          );
        }
      }
      const checkpointHandlers = handlers.get("checkpoint");
      if (checkpointHandlers !== undefined) {
        const note = await d.checkpoint();
        if (note !== undefined) {
          const [, size, rootHash] = note.split("\n");
          const event: CheckpointEvent = {
            ...base,
            event: "checkpoint",
            size: Number(size),
            rootHash: rootHash ?? "",
            note,
          };
          for (const h of checkpointHandlers)
            await (h as Handler<CheckpointEvent>)(event, d.signal);
        }
      }
      return { ok: true };
    },
  };
}
