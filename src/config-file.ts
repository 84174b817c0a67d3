/**
 * The configuration file: which plugins a process runs, with their options, and the rules
 * that make a generation critical. `genlog.config.json`, or `genlog.config.mjs` when the
 * plugins are code of the operator's (an ES module whose default export is the same object,
 * where a plugin may also be given as the object `definePlugin` returned).
 *
 * ```json
 * {
 *   "plugins": [
 *     "./plugins/notify.mjs",
 *     { "use": "genlog-plugin-slack", "options": { "channel": "#generations" } }
 *   ],
 *   "critical": [{ "types": ["ai-model"], "statuses": ["failed"] }]
 * }
 * ```
 *
 * A plugin is named by a path (relative to the file) or a package name (resolved from the
 * file's directory, then from genlog's). Its module exports the plugin as `default` or as
 * `plugin`. Everything is checked when the process starts: a mistake stops it, naming the
 * field.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { GenlogError } from "./errors.js";
import { checkCriticalRules, type CriticalRule, type Plugin } from "./log/plugins.js";

/** The names looked for in the current directory, in this order. */
export const CONFIG_FILES = ["genlog.config.mjs", "genlog.config.json"] as const;

/** What {@link loadConfig} gives `openLog`. */
export interface LoadedConfig {
  /** The file read, or undefined when there was none. */
  path: string | undefined;
  plugins: { plugin: Plugin; options?: unknown }[];
  critical: CriticalRule[];
  /**
   * Followers to add when missing (`Genlog.ensureFollower`), each with its secret read from
   * the environment variable `secretEnv` names (a file holds no secret).
   */
  followers: ConfiguredFollower[];
}

/** A follower of the configuration file. */
export interface ConfiguredFollower {
  tenant?: string;
  name: string;
  kind: string;
  config?: unknown;
  secretEnv?: string;
  fromStart?: boolean;
}

const ConfigSchema = Type.Object(
  {
    plugins: Type.Optional(
      Type.Array(
        Type.Union([
          Type.String({ minLength: 1 }),
          Type.Object(
            { use: Type.Unknown(), options: Type.Optional(Type.Unknown()) },
            { additionalProperties: false },
          ),
          Type.Object({ genlogPlugin: Type.Literal(1) }),
        ]),
        { maxItems: 100 },
      ),
    ),
    critical: Type.Optional(Type.Unknown()),
    followers: Type.Optional(
      Type.Array(
        Type.Object(
          {
            tenant: Type.Optional(Type.String({ minLength: 1 })),
            name: Type.String({ minLength: 1 }),
            kind: Type.String({ minLength: 1 }),
            config: Type.Optional(Type.Unknown()),
            secretEnv: Type.Optional(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$" })),
            fromStart: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { maxItems: 1000 },
      ),
    ),
  },
  { additionalProperties: false },
);
const checker = TypeCompiler.Compile(ConfigSchema);

/**
 * Reads the configuration: `path` if given (it must exist), else `$GENLOG_CONFIG`, else the
 * first of {@link CONFIG_FILES} in `cwd`; none at all is an empty configuration. Loads every
 * plugin module; `openLog` then checks the options and runs the setups.
 *
 * @throws {GenlogError} `GENLOG_E_CONFIG` naming the file and the field.
 */
export async function loadConfig(
  path?: string,
  { cwd = process.cwd(), env = process.env }: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<LoadedConfig> {
  const given = path ?? (env["GENLOG_CONFIG"] || undefined);
  const file =
    given !== undefined
      ? resolve(cwd, given)
      : CONFIG_FILES.map((n) => resolve(cwd, n)).find((p) => existsSync(p));
  if (file === undefined) return { path: undefined, plugins: [], critical: [], followers: [] };
  const fail = (pointer: string, message: string, cause?: unknown) =>
    new GenlogError("GENLOG_E_CONFIG", `${file}${pointer}: ${message}`, {
      ...(cause !== undefined ? { cause } : {}),
      details: { file, pointer },
    });
  if (!existsSync(file)) throw fail("", "no such file");
  let raw: unknown;
  const ext = extname(file);
  if (ext === ".json") {
    try {
      raw = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw fail("", e instanceof SyntaxError ? "not JSON" : String(e), e);
    }
  } else if (ext === ".mjs" || ext === ".js") {
    try {
      raw = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
    } catch (e) {
      throw fail("", `could not be loaded: ${e instanceof Error ? e.message : String(e)}`, e);
    }
  } else {
    throw fail("", "expected a .json or .mjs file");
  }
  if (!checker.Check(raw)) {
    const first = checker.Errors(raw).First();
    throw fail(first?.path ?? "", first?.message.toLowerCase() ?? "invalid");
  }
  const config = raw as Static<typeof ConfigSchema>;
  const plugins: LoadedConfig["plugins"] = [];
  for (const [i, entry] of (config.plugins ?? []).entries()) {
    const pointer = `/plugins/${i}`;
    const use = typeof entry === "string" ? entry : "use" in entry ? entry.use : entry;
    const options = typeof entry === "object" && "use" in entry ? entry.options : undefined;
    const plugin =
      typeof use === "string" ? await importPlugin(file, use, pointer, fail) : (use as Plugin);
    if (plugin === null || typeof plugin !== "object" || plugin.genlogPlugin !== 1) {
      throw fail(pointer, "expected a plugin made with definePlugin (from genlog)");
    }
    plugins.push(options === undefined ? { plugin } : { plugin, options });
  }
  let critical: CriticalRule[];
  try {
    critical = checkCriticalRules(config.critical ?? []);
  } catch (e) {
    const pointer = (e as GenlogError).details?.["pointer"];
    throw fail(String(pointer ?? ""), (e as Error).message.replace(/^\S+: /, ""), e);
  }
  return { path: file, plugins, critical, followers: config.followers ?? [] };
}

/** A plugin module's export: `default`, else `plugin`. */
async function importPlugin(
  file: string,
  specifier: string,
  pointer: string,
  fail: (pointer: string, message: string, cause?: unknown) => GenlogError,
): Promise<Plugin> {
  let url: string;
  if (specifier.startsWith(".") || isAbsolute(specifier)) {
    const path = resolve(dirname(file), specifier);
    if (!existsSync(path)) throw fail(pointer, `${specifier}: no such file`);
    url = pathToFileURL(path).href;
  } else {
    // From the configuration's directory first: plugins installed beside the application.
    try {
      url = pathToFileURL(createRequire(file).resolve(specifier)).href;
    } catch {
      url = specifier;
    }
  }
  let module: { default?: unknown; plugin?: unknown };
  try {
    module = (await import(url)) as typeof module;
  } catch (e) {
    throw fail(
      pointer,
      `${specifier} could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
      e,
    );
  }
  const plugin = (module.default ?? module.plugin) as Plugin | undefined;
  if (plugin?.genlogPlugin !== 1) {
    throw fail(
      pointer,
      `${specifier} exports no plugin: expected \`export default definePlugin({…})\``,
    );
  }
  return plugin;
}
