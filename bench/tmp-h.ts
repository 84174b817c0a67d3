import { openBenchLog } from "./ingest.js";
import { withTempDir, makeEvent, windowed } from "./common.js";
import { setUpTenants, tenantName } from "./tenants.js";
import { Session } from "node:inspector/promises";
import { writeFileSync, mkdirSync } from "node:fs";
await withTempDir("h", async (dir) => {
  const log = await openBenchLog(dir, undefined);
  await setUpTenants(log, 1000);
  const s = new Session(); s.connect(); await s.post("Profiler.enable");
  for (let r = 0; r < 6; r++) {
    if (r === 3) await s.post("Profiler.start");
    const t0 = performance.now();
    await windowed(5000, 5000, (i) => log.append(makeEvent(r * 5000 + i, tenantName(i % 1000))));
    console.log("h", Math.round(5000 / ((performance.now() - t0) / 1000)));
  }
  const { profile } = await s.post("Profiler.stop"); mkdirSync("/tmp/hprof", { recursive: true }); writeFileSync("/tmp/hprof/h.cpuprofile", JSON.stringify(profile));
  await log.close();
});
