/**
 * Overload: when the server's event loop lags past its limit, a request is answered 503 with
 * `Retry-After` and `GENLOG_E_BUSY`, and nothing of it is stored; once the lag is gone, the
 * same request is accepted. The lag is real: the server runs in this process, and the test
 * blocks its event loop.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.js";

/** Keeps the event loop busy for `ms`, as a long synchronous task in the server would. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test("a lagging event loop answers 503 with Retry-After and stores nothing; then it recovers", async () => {
  const s = await startServer({ maxEventLoopDelay: 50 });
  const before = await s.log.size("acme");
  const post = () =>
    fetch(`${s.url}/v1/tenants/acme/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.tokens.writer}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "backend", meta: { n: 1 } }),
    });
  // The lag is sampled once a second (its mean over the second): a block longer than that is
  // seen by the next sample, which the request sent right after it meets.
  let busy: Response | undefined;
  let created = 0;
  for (let attempt = 0; attempt < 5 && busy === undefined; attempt++) {
    block(1500);
    const r = await post();
    if (r.status === 503) busy = r;
    else {
      assert.equal(r.status, 201, await r.text());
      created++;
    }
  }
  assert.ok(busy !== undefined, "a request after a 1.5 s block is answered 503");
  assert.equal(busy.headers.get("retry-after"), "5");
  const body = (await busy.json()) as { code: string };
  assert.equal(body.code, "GENLOG_E_BUSY");
  // What was accepted before the lag was seen is stored; the 503 added nothing.
  assert.equal(await s.log.size("acme"), before + created);
  let ok: Response | undefined;
  for (let attempt = 0; attempt < 50 && ok === undefined; attempt++) {
    await new Promise((r) => setTimeout(r, 200));
    const r = await post();
    if (r.status === 201) ok = r;
    else await r.arrayBuffer();
  }
  assert.ok(ok !== undefined, "the server accepts appends again once the lag is gone");
  assert.equal(await s.log.size("acme"), before + created + 1);
});
