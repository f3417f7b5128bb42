// Scale-out and the shared rate limiter (docs/internals/scale-out.md, docs/internals/limits.md):
// three mcpbridge instances (two workers each) behind nginx without sticky sessions, one global
// bucket in a redis-server started here, eight MCP clients calling as fast as they are
// answered.
//   - the limit holds across the instances: the calls allowed in a window stay within
//     rate * window + burst, not three times that;
//   - Redis stopped mid-load: every call is still answered (allowed or denied, never failed),
//     and each instance applies the limit on its own (more than the global limit gets through,
//     as documented), /readyz stays 200 and reports the Redis link down (as /metrics does);
//     Redis started again: the limiters reconnect and the limit is global again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { sleep } from './helpers.mjs';
import { startDownstream } from './idp.mjs';
import { LoadClient, get, lastUpstreamPort, newSecret, runLoad, startBalancer, startInstance, startRedis,
         sanitizerReports, stopLoads, tally, writeInstanceConfig } from './fixtures/scale_out_cluster.mjs';

const INSTANCES = 3;
const CLIENTS = 8;
const RATE = 20;   // calls per second, for everyone together (global bucket)
const BURST = 10;
const SLACK = 2;   // tokens of tolerance at the window edges

let ds, redis, lb;
const configs = [];
const instances = [];

before(async () => {
  ds = await startDownstream();
  redis = await startRedis();
  const extra = {
    runtime: {
      server: { session: { secret: newSecret() } },
      middleware: {
        request_timeout: { timeout_ms: 5000 },
        rate_limiting: { enabled: true, max_rps: RATE, burst: BURST, global: true },
      },
      redis: { url: redis.url, key_prefix: `mbscale-${randomUUID().slice(0, 8)}:`, timeout_ms: 200 },
    },
  };
  for (let i = 0; i < INSTANCES; i++) configs.push(await writeInstanceConfig(ds.url, extra));
  instances.push(...await Promise.all(configs.map((c) => startInstance(c, WORKERS))));
  lb = await startBalancer(configs.map((c) => c.port));
});

after(async () => {
  await stopLoads();
  await Promise.all(instances.map((i) => i.terminate()));
  await lb?.stop();
  await redis?.stop();
  await ds?.stop();
  assert.equal(sanitizerReports(), '', 'a sanitizer reported an error in an instance');
});

const clients = () => Promise.all(Array.from({ length: CLIENTS }, (_, i) => new LoadClient(lb.url, i).init()));

/** Calls decided within [a, b] (sent at or after a, answered by b) and how many were allowed. */
function window(records, a, b) {
  const inside = records.filter((r) => r.t0 >= a && r.t1 <= b);
  return { seconds: (b - a) / 1000, calls: inside.length, allowed: inside.filter((r) => r.outcome === 'ok').length };
}
/** The most a global bucket allows in a window of that many seconds. */
const globalMax = (seconds) => Math.floor(RATE * seconds) + BURST + SLACK;
const describe = (w) => `${w.allowed} of ${w.calls} calls allowed in ${w.seconds.toFixed(1)} s`;

/** Every call was answered: allowed or denied by the limiter, none failed, hung or wrong. */
function assertAllAnswered(records) {
  const t = tally(records);
  const bad = records.filter((r) => r.outcome !== 'ok' && r.outcome !== 'limited');
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} calls were not answered properly`);
  return t;
}

/** What an instance says about its Redis link: { readyStatus, readyz (the redis member of
 * /readyz, or undefined), metrics ({ name: value } of the mcpbridge_redis_* lines, or null) }. */
async function redisReport(inst) {
  const ready = await get(`${inst.base}/readyz`);
  const metrics = await get(`${inst.base}/metrics`);
  const lines = [...(metrics.text || '').matchAll(/^(mcpbridge_redis_[a-z_]+) (\d+)$/gm)];
  return { readyStatus: ready.status, readyz: ready.json?.redis,
           metrics: lines.length ? Object.fromEntries(lines.map((m) => [m[1], Number(m[2])])) : null };
}
const WORKERS = 2;
const allConnected = (r) => r.metrics?.mcpbridge_redis_connected_workers === WORKERS;

test('rate limit holds across the instances: one global bucket in Redis, not one per instance', async (t) => {
  const cs = await clients();
  const load = runLoad(cs, 10);
  const a = Date.now();
  await sleep(4000);
  const records = await load.stop();
  const w = window(records, a, Date.now());
  const tt = assertAllAnswered(records);
  t.diagnostic(`shared limit: ${describe(w)} (global limit ${globalMax(w.seconds)}, one bucket per instance would allow ` +
               `about ${Math.round(INSTANCES * (RATE * w.seconds + BURST))}); ${tt.limited} denied`);
  assert.ok(w.calls > INSTANCES * RATE * w.seconds, `the load (${w.calls} calls) is too light to tell`);
  assert.ok(w.allowed <= globalMax(w.seconds), describe(w));
  assert.ok(w.allowed >= RATE * w.seconds / 2, `the limiter let too little through: ${describe(w)}`);
  // The allowed calls were spread over every instance.
  const served = new Set(records.filter((r) => r.outcome === 'ok').map((r) => lastUpstreamPort(r.upstream)));
  assert.equal(served.size, INSTANCES, `allowed calls came from ${[...served]}`);
  for (const i of instances) assert.doesNotMatch(i.log(), /redis_unavailable_local_fallback/);
});

test('Redis stopped and restarted mid-load: calls keep being answered, limits fall back per instance, then reconnect', async (t) => {
  const cs = await clients();
  const load = runLoad(cs, 10);
  await sleep(1500);
  const up = await Promise.all(instances.map(redisReport));

  await redis.stop();
  const downAt = Date.now();
  await sleep(1000);
  const down = await Promise.all(instances.map(redisReport));
  await sleep(2000);
  const restartAt = Date.now();
  redis = await startRedis(redis.port);

  // Each worker's limiter retries with a back-off (at most 5 s): find the first 2-second window
  // after the restart in which the global limit holds again, within 12 s.
  let shared = null;
  const deadline = restartAt + 12000;
  while (!shared && Date.now() < deadline) {
    const a = Date.now();
    await sleep(2000);
    const w = window(load.records, a, Date.now());
    if (w.allowed <= globalMax(w.seconds)) shared = { ...w, after: (a - restartAt) / 1000 };
  }
  const records = await load.stop();
  // Where the instances report their Redis link: every worker connected again, within 12 s.
  let after = await Promise.all(instances.map(redisReport));
  while (after.some((r) => r.metrics && !allConnected(r)) && Date.now() < deadline) {
    await sleep(200);
    after = await Promise.all(instances.map(redisReport));
  }

  const tt = assertAllAnswered(records);
  const outage = window(records, downAt + 200, restartAt);
  t.diagnostic(`redis outage: ${tt.total} calls (${tt.ok} allowed, ${tt.limited} denied, 0 failed); while down: ` +
               `${describe(outage)} (global limit ${globalMax(outage.seconds)}); limit shared again ` +
               `${shared ? `${shared.after.toFixed(1)} s after the restart: ${describe(shared)}` : 'never'}`);
  // Down: every instance decides alone, so more than the global limit gets through, but no more
  // than one full bucket per instance.
  assert.ok(outage.allowed > globalMax(outage.seconds), `no sign of the per-instance fallback: ${describe(outage)}`);
  assert.ok(outage.allowed <= INSTANCES * globalMax(outage.seconds), describe(outage));
  for (const i of instances) assert.match(i.log(), /redis_unavailable_local_fallback/);
  // Back: the limiters reconnected and share the bucket again.
  assert.ok(shared, 'the global limit did not hold again within 12 s of the restart');

  // The instance stays ready without Redis (it works on its own; taking every instance out of
  // the balancer for a Redis outage would turn it into a full outage). Where /readyz and
  // /metrics report the Redis link, they show it down, then back.
  for (let i = 0; i < INSTANCES; i++) {
    t.diagnostic(`instance ${i}: /readyz ${up[i].readyStatus} -> ${down[i].readyStatus} -> ${after[i].readyStatus}; ` +
                 `redis in /readyz: ${JSON.stringify(up[i].readyz)} -> ${JSON.stringify(down[i].readyz)} -> ` +
                 `${JSON.stringify(after[i].readyz)}; in /metrics: ${JSON.stringify(up[i].metrics)} -> ` +
                 `${JSON.stringify(down[i].metrics)} -> ${JSON.stringify(after[i].metrics)}`);
    for (const r of [up[i], down[i], after[i]]) assert.equal(r.readyStatus, 200, `instance ${i}: /readyz`);
    if (up[i].readyz !== undefined) {
      assert.deepEqual(up[i].readyz, { configured: true, connected: true });
      assert.deepEqual(down[i].readyz, { configured: true, connected: false }, `instance ${i}: /readyz while Redis is down`);
      assert.deepEqual(after[i].readyz, { configured: true, connected: true }, `instance ${i}: /readyz after the restart`);
    }
    if (up[i].metrics) {
      assert.equal(up[i].metrics.mcpbridge_redis_configured_workers, WORKERS);
      assert.ok(allConnected(up[i]), JSON.stringify(up[i].metrics));
      assert.equal(down[i].metrics.mcpbridge_redis_connected_workers, 0, `instance ${i}: /metrics while Redis is down`);
      assert.ok(down[i].metrics.mcpbridge_redis_errors_total > up[i].metrics.mcpbridge_redis_errors_total);
      assert.ok(allConnected(after[i]), `instance ${i}: /metrics after the restart: ${JSON.stringify(after[i].metrics)}`);
    }
  }
});
