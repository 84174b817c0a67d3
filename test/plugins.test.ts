/**
 * Plugins: defined with `definePlugin`, listed in a real configuration file, loaded from real
 * module files, with options checked by a real schema library (Zod, through the Standard
 * Schema interface), and run as followers over the committed log.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import { definePlugin, isGenlogError, loadConfig, type PluginEvent } from "../src/index.js";
import { openLog } from "./helpers/store-under-test.js";
import { drain } from "./helpers/followers.js";
import { REPO_ROOT, runCli } from "./helpers/run-cli.js";
import { tempDir } from "./helpers/temp-dir.js";

/** A plugin that keeps every event it is given, and fails the first `failures` deliveries. */
function recorder(failures = 0) {
  const seen: PluginEvent[] = [];
  let left = failures;
  const plugin = definePlugin({
    name: "@acme/recorder",
    version: "1.2.3",
    options: z.object({ channel: z.string().startsWith("#") }),
    setup(ctx) {
      assert.equal(ctx.options.channel, "#generations");
      const keep = (e: PluginEvent) => {
        if (left > 0) {
          left--;
          throw new Error("the chat service is down");
        }
        seen.push(e);
      };
      for (const event of ["appended", "critical", "erased", "purged"] as const) {
        ctx.on(event, keep);
      }
      ctx.on("checkpoint", keep);
    },
  });
  return { plugin, seen };
}

test("a plugin gets every event of the fixed list, in order, from the committed log", async (t) => {
  const { plugin, seen } = recorder(2);
  const log = await openLog({
    dataDir: tempDir(),
    plugins: [{ plugin, options: { channel: "#generations" } }],
    critical: [{ types: ["ai-model"], statuses: ["failed"] }],
  });
  t.after(() => log.close());
  const a = await log.append({ type: "backend", user: "alice", meta: {} });
  const b = await log.append({ type: "ai-model", status: "failed", meta: {} });
  const c = await log.append({ type: "frontend", meta: { critical: true } });
  await log.eraseSubject({ subject: "alice", reason: "GDPR Art. 17 request #1" });
  const total = await drain(log);
  assert.equal(total.failed, 2, "the two failures were retried");

  const [info] = await log.followers();
  assert.equal(info!.name, "plugin-acme-recorder");
  assert.equal(info!.kind, "plugin:@acme/recorder");
  assert.match(
    info!.target,
    /^plugin @acme\/recorder@1\.2\.3 \(appended, critical, erased, purged, checkpoint\)$/,
  );

  const records = seen.flatMap((e) => (e.event === "checkpoint" ? [] : [e]));
  assert.deepEqual(
    records.map((e) => [e.event, e.record.id]),
    [
      ["appended", a.id],
      ["appended", b.id],
      ["critical", b.id],
      ["appended", c.id],
      ["critical", c.id],
      ["erased", records.at(-1)!.record.id],
    ],
  );
  assert.equal(records.at(-1)!.record.type, "genlog.erasure");
  for (const e of records) {
    assert.equal(e.tenant, "default");
    assert.equal(e.origin, "genlog.local/default/events");
    assert.equal(
      (await log.inclusionProof(e.record.seq)).leafHash,
      Buffer.from(e.leafHash, "hex").toString("base64"),
    );
  }
  // Each checkpoint comes after the last record it covers, and is the log's signed note.
  const checkpoints = seen.flatMap((e) => (e.event === "checkpoint" ? [e] : []));
  assert.deepEqual(
    checkpoints.map((cp) => cp.size),
    [1, 2, 3, 4],
  );
  for (const cp of checkpoints) {
    assert.equal(cp.note, await log.checkpointAt(cp.size));
    assert.equal(cp.note.split("\n")[2], cp.rootHash);
  }
  const order = seen.map((e) =>
    e.event === "checkpoint" ? `cp${e.size}` : `${e.event}${e.record.seq}`,
  );
  assert.deepEqual(order, [
    "appended0",
    "cp1",
    "appended1",
    "critical1",
    "cp2",
    "appended2",
    "critical2",
    "cp3",
    "erased3",
    "cp4",
  ]);
});

/** A directory with a plugin module that appends each event to a file named by its options. */
function pluginDir(): { dir: string; out: string } {
  const dir = tempDir();
  const genlog = pathToFileURL(join(REPO_ROOT, "dist", "index.js")).href;
  mkdirSync(join(dir, "plugins"));
  writeFileSync(
    join(dir, "plugins", "notify.mjs"),
    `import { appendFileSync } from "node:fs";
import { definePlugin } from ${JSON.stringify(genlog)};
export default definePlugin({
  name: "notify",
  version: "0.1.0",
  options(input) {
    if (typeof input?.file !== "string") throw new Error("file: expected a path");
    return input;
  },
  setup(ctx) {
    ctx.on("critical", (e) => appendFileSync(ctx.options.file, e.record.type + " " + e.record.seq + "\\n"));
  },
});
`,
  );
  writeFileSync(join(dir, "plugins", "empty.mjs"), "export const nothing = 1;\n");
  return { dir, out: join(dir, "critical.txt") };
}

test("the configuration file: found in the current directory, every mistake named at start-up", async () => {
  const { dir, out } = pluginDir();
  assert.deepEqual(await loadConfig(undefined, { cwd: tempDir(), env: {} }), {
    path: undefined,
    plugins: [],
    critical: [],
    followers: [],
  });
  const write = (config: unknown) =>
    writeFileSync(join(dir, "genlog.config.json"), JSON.stringify(config));
  write({
    plugins: [{ use: "./plugins/notify.mjs", options: { file: out } }],
    critical: [{ statuses: ["failed"] }],
  });
  const config = await loadConfig(undefined, { cwd: dir, env: {} });
  assert.equal(config.path, join(dir, "genlog.config.json"));
  assert.equal(config.plugins[0]!.plugin.name, "notify");
  assert.deepEqual(config.critical, [{ statuses: ["failed"] }]);

  // An ES module beside it wins, and may give the plugin itself.
  writeFileSync(
    join(dir, "genlog.config.mjs"),
    `import notify from "./plugins/notify.mjs";
export default { plugins: [{ use: notify, options: { file: ${JSON.stringify(out)} } }] };
`,
  );
  const fromModule = await loadConfig(undefined, { cwd: dir, env: {} });
  assert.equal(fromModule.path, join(dir, "genlog.config.mjs"));
  assert.equal(fromModule.plugins[0]!.plugin.version, "0.1.0");
  assert.deepEqual(fromModule.critical, []);
  // GENLOG_CONFIG names the file to read.
  const named = await loadConfig(undefined, {
    cwd: tempDir(),
    env: { GENLOG_CONFIG: join(dir, "genlog.config.json") },
  });
  assert.equal(named.path, join(dir, "genlog.config.json"));
  rmSync(join(dir, "genlog.config.mjs"));

  const refused = async (config: unknown, pointer: RegExp, message?: RegExp) => {
    write(config);
    await assert.rejects(
      async () => {
        const c = await loadConfig(undefined, { cwd: dir, env: {} });
        // Options and setup are checked when the log opens, before anything is created.
        await openLog({ dataDir: join(dir, "never"), plugins: c.plugins, critical: c.critical });
      },
      (e: unknown) => {
        assert.ok(isGenlogError(e, "GENLOG_E_CONFIG"), String(e));
        assert.match(String((e.details as { pointer?: string }).pointer), pointer, e.message);
        if (message !== undefined) assert.match(e.message, message);
        return true;
      },
    );
  };
  await refused({ plugin: [] }, /^\/plugin$/);
  await refused({ plugins: ["./plugins/missing.mjs"] }, /^\/plugins\/0$/, /no such file/);
  await refused({ plugins: ["./plugins/empty.mjs"] }, /^\/plugins\/0$/, /exports no plugin/);
  await refused(
    { plugins: ["genlog-plugin-nobody-wrote"] },
    /^\/plugins\/0$/,
    /could not be loaded/,
  );
  await refused({ critical: [{ statuses: ["ok"] }] }, /^\/critical\/0\/statuses\/0$/);
  await refused({ critical: [{}] }, /^\/critical\/0$/);
  await refused(
    { plugins: ["./plugins/notify.mjs"] },
    /^\/plugins\/0\/options$/,
    /plugin notify: options: file: expected a path/,
  );
  await refused(
    {
      plugins: [
        { use: "./plugins/notify.mjs", options: { file: out } },
        { use: "./plugins/notify.mjs", options: { file: out } },
      ],
    },
    /^\/plugins\/1$/,
    /listed twice/,
  );
  await assert.rejects(loadConfig(join(dir, "nowhere.json")), (e: unknown) =>
    isGenlogError(e, "GENLOG_E_CONFIG"),
  );
});

test("definePlugin and setup refuse what cannot run: names, versions, events, options", async () => {
  const bad = [
    { name: "Not A Package", version: "1.0.0", setup() {} },
    { name: "ok", version: "", setup() {} },
    { name: "ok", version: "1", setup: "no" },
    { name: "ok", version: "1", options: { parse() {} }, setup() {} },
  ];
  for (const d of bad) {
    assert.throws(
      () => definePlugin(d as never),
      (e: unknown) => isGenlogError(e, "GENLOG_E_CONFIG"),
      JSON.stringify(d),
    );
  }
  const typo = definePlugin({
    name: "typo",
    version: "1",
    setup(ctx) {
      ctx.on("appendd" as never, () => {});
    },
  });
  await assert.rejects(
    openLog({ dataDir: tempDir(), plugins: [{ plugin: typo }] }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_CONFIG") &&
      /no event named "appendd" \(one of appended, critical, erased, purged, checkpoint\)/.test(
        e.message,
      ),
  );
  // Zod's own issue, with its path.
  const { plugin } = recorder();
  await assert.rejects(
    openLog({ dataDir: tempDir(), plugins: [{ plugin, options: { channel: "general" } }] }),
    (e: unknown) =>
      isGenlogError(e, "GENLOG_E_CONFIG") &&
      (e.details as { pointer: string }).pointer === "/plugins/0/options/channel" &&
      /plugin @acme\/recorder: options\/channel: /.test(e.message),
  );
});

test("genlog followers run loads the plugins of genlog.config.json, and followers list shows them", async () => {
  const { dir, out } = pluginDir();
  writeFileSync(
    join(dir, "genlog.config.json"),
    JSON.stringify({
      plugins: [{ use: "./plugins/notify.mjs", options: { file: out } }],
      critical: [{ types: ["ai-model"] }],
    }),
  );
  const data = join(dir, "data");
  const cli = (...args: string[]) => runCli(["--data-dir", data, ...args], { cwd: dir });
  assert.equal((await cli("init")).code, 0);
  // The plugin follower comes with the first process that runs the plugins: from then on.
  assert.equal((await cli("followers", "run", "--once")).code, 0);
  for (const type of ["backend", "ai-model", "frontend", "ai-model"]) {
    assert.equal((await cli("log", type)).code, 0);
  }
  const run = await cli("followers", "run", "--once");
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readFileSync(out, "utf8"), "ai-model 1\nai-model 3\n");
  const list = await cli("followers", "list");
  assert.match(list.stdout, /plugin-notify/);
  assert.match(list.stdout, /plugin notify@0\.1\.0 \(critical\)/);

  // Options the plugin refuses: the message names the file and where in it.
  const config = join(dir, "genlog.config.json");
  writeFileSync(
    config,
    JSON.stringify({ plugins: [{ use: "./plugins/notify.mjs", options: {} }] }),
  );
  const bad = await cli("followers", "run", "--once");
  assert.equal(bad.code, 2);
  assert.ok(bad.stderr.includes(`${config}/plugins/0/options: `), bad.stderr);
  assert.match(bad.stderr, /file: expected a path \[GENLOG_E_CONFIG\]/);
});

test("the configuration file's followers are added when missing, left as they are when they differ, and checked", async () => {
  const dir = tempDir();
  const data = join(dir, "data");
  const write = (config: unknown) =>
    writeFileSync(join(dir, "genlog.config.json"), JSON.stringify(config));
  const cli = (args: string[], env: Record<string, string | undefined> = {}) =>
    runCli(["--data-dir", data, ...args], { cwd: dir, env });
  assert.equal((await cli(["init"])).code, 0);
  write({ followers: [{ name: "archive", kind: "file-sink", config: { format: "ecs" } }] });
  const first = await cli(["followers", "run", "--once"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stderr,
    /added follower archive of tenant default, as .*genlog\.config\.json says/,
  );
  const again = await cli(["followers", "run", "--once"]);
  assert.doesNotMatch(again.stderr, /added follower/);
  assert.match(
    (await cli(["followers", "list"])).stdout,
    /^archive {2}file-sink {2}NDJSON files \(ecs,/m,
  );

  write({ followers: [{ name: "archive", kind: "file-sink", config: { format: "record" } }] });
  const differs = await cli(["followers", "run", "--once"]);
  assert.equal(differs.code, 0, differs.stderr);
  assert.match(
    differs.stderr,
    /follower archive of tenant default is not as .* says .*it runs as it is/,
  );
  const listed = await cli(["followers", "list"]);
  assert.match(listed.stdout, /NDJSON files \(ecs,/, `${listed.code}: ${listed.stderr}`);

  // Secrets come from the environment, never the file; every mistake is named.
  const hook = { name: "hook", kind: "webhook", config: { url: "https://hooks.example.com/in" } };
  for (const [followers, env, pointer] of [
    [[{ ...hook, secretEnv: "ACME_HOOK_SECRET" }], {}, "/followers/0/secretEnv"],
    [[{ ...hook, secret: "whsec_x" }], {}, "/followers/0/secret"],
    [
      [{ ...hook, config: { url: "ftp://x" }, secretEnv: "ACME_HOOK_SECRET" }],
      { ACME_HOOK_SECRET: `whsec_${"A".repeat(43)}=` },
      "/followers/0/config/url",
    ],
  ] as const) {
    write({ followers });
    const r = await cli(["--json", "followers", "run", "--once"], env);
    assert.equal(r.code, 2, r.stderr);
    const err = JSON.parse(r.stderr.trim().split("\n").at(-1)!) as {
      code: string;
      details: { pointer: string };
    };
    assert.equal(err.code, "GENLOG_E_CONFIG");
    assert.equal(err.details.pointer, pointer);
  }
});
