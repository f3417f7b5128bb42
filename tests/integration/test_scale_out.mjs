// Scale-out on real components (docs/internals/scale-out.md): three mcpbridge instances (two
// workers each, one shared session secret, one redis-server for the limiter) behind nginx with
// no sticky sessions, under a bounded load of eight MCP clients that each keep one session.
//   - failover: SIGKILL of one whole instance mid-load; the sessions carry on on the others,
//     and only calls that were on the killed instance fail, cleanly (502 from nginx), never
//     with a wrong answer or a hang;
//   - rolling restart: SIGTERM each instance in turn (a replacement on the same port, ready,
//     then the next) mid-load; not one call fails, thanks to the drain sequence
//     (runtime.server.drain_delay_ms).
// Rate limits across the instances and a Redis outage: test_scale_out_limits.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';

import { sleep } from './helpers.mjs';
import { startDownstream } from './idp.mjs';
import { LoadClient, get, lastUpstreamPort, newSecret, runLoad, startBalancer, startInstance, startRedis,
         sanitizerReports, stopLoads, tally, writeInstanceConfig } from './fixtures/scale_out_cluster.mjs';

const INSTANCES = 3;
const CLIENTS = 8;
const WORKERS = 2;
const DRAIN_DELAY_MS = 1000;

let ds, redis, lb;
const configs = [];
const instances = [];

before(async () => {
  ds = await startDownstream();
  redis = await startRedis();
  const extra = {
    runtime: {
      server: { session: { secret: newSecret() }, drain_delay_ms: DRAIN_DELAY_MS, shutdown_grace_seconds: 5 },
      middleware: {
        request_timeout: { timeout_ms: 5000 },
        // Generous per-session limits through Redis: the shared limiter is on the path of every
        // call, but the load never reaches it.
        rate_limiting: { enabled: true, max_rps: 100000, burst: 100000 },
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

// Each client initializes once through the balancer and keeps that session for all its calls
// (a call answered "unknown session" would count as a wrong answer).
const clients = () => Promise.all(Array.from({ length: CLIENTS }, (_, i) => new LoadClient(lb.url, i).init()));

/** tools/call getItem straight to an instance through agent (false: a connection of its own).
 * Returns { status, connection (the response's Connection header), reused (the socket had
 * served a request before), id (the item that came back) }. */
function callOn(agent, base, sid, id) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'getItem', arguments: { id } } });
    const req = request(`${base}/mcp`, {
      method: 'POST', agent, timeout: 5000,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
                 'Mcp-Session-Id': sid, 'Mcp-Protocol-Version': '2025-11-25', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let item;
        try { item = JSON.parse(JSON.parse(text).result.content[0].text); } catch {}
        resolve({ status: res.statusCode, connection: res.headers.connection, reused: req.reusedSocket, id: item?.id });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** How many workers logged that they took the stop signal. */
const drainingWorkers = (log) => (log.match(/signal \d+: draining/g) || []).length;

const summary = (t) => `${t.total} calls: ${t.ok} ok, ${t.failed} failed, ${t.hung} hung, ${t.wrong} wrong, ${t.limited} limited`;

test('failover: SIGKILL of one instance mid-load; sessions continue on the others, only its in-flight calls fail', async (t) => {
  const cs = await clients();
  const load = runLoad(cs);
  await sleep(3000);
  const victim = instances[1];
  const killedAt = Date.now();
  const doneBeforeKill = load.records.length;
  await victim.crash();
  await sleep(4000);
  const records = await load.stop();
  const stoppedAt = Date.now();

  const tt = tally(records);
  const failed = records.filter((r) => r.outcome !== 'ok');
  t.diagnostic(`failover: ${summary(tt)} in ${((stoppedAt - killedAt) / 1000 + 3).toFixed(1)} s; ` +
               `failed calls: ${failed.map((r) => `${r.status || r.detail} via ${r.upstream}, sent ${r.t0 - killedAt} ms ` +
                                                   'after the kill').join('; ') || 'none'}`);
  assert.equal(tt.wrong, 0, `wrong answers: ${JSON.stringify(records.filter((r) => r.outcome === 'wrong').slice(0, 3))}`);
  assert.equal(tt.hung, 0, 'a call hung');
  assert.equal(tt.limited, 0);
  // Each client has at most one call in flight: at most CLIENTS calls can have been on the
  // killed instance when it died (or sent there in the instant before nginx saw its connections
  // close), and every failure is one of those: sent to the victim, answered with nginx's 502,
  // started no later than the moment of the kill (plus a second for a loaded machine).
  assert.ok(tt.failed <= CLIENTS, `${tt.failed} failed calls, more than the ${CLIENTS} that can be in flight`);
  for (const c of cs) assert.ok(failed.filter((r) => r.client === c.index).length <= 1, `client ${c.index} failed twice`);
  for (const r of failed) {
    assert.equal(r.status, 502, JSON.stringify(r));
    assert.equal(lastUpstreamPort(r.upstream), victim.port, `a failure on another instance: ${JSON.stringify(r)}`);
    assert.ok(r.t0 <= killedAt + 1000, `a call that started ${r.t0 - killedAt} ms after the kill failed: ${JSON.stringify(r)}`);
  }
  // The calls after the kill went on without the victim, for every client, on its first session.
  const after = records.filter((r) => r.t0 > killedAt + 1000);
  assert.ok(after.length >= CLIENTS * 10, `only ${after.length} calls after the kill`);
  for (const c of cs) {
    const mine = after.filter((r) => r.client === c.index);
    assert.ok(mine.length > 0 && mine.every((r) => r.outcome === 'ok'), `client ${c.index} after the kill`);
    // No stickiness: one session's calls are spread over both surviving instances.
    assert.equal(new Set(mine.map((r) => lastUpstreamPort(r.upstream))).size, INSTANCES - 1,
                 `client ${c.index} used ${[...new Set(mine.map((r) => r.upstream))]}`);
  }
  assert.ok(doneBeforeKill > CLIENTS * 10, 'the load ran before the kill');
  assert.ok(records.slice(0, doneBeforeKill).some((r) => lastUpstreamPort(r.upstream) === victim.port),
            'the killed instance served calls before');
  assert.deepEqual(await victim.exited, { code: null, signal: 'SIGKILL' });

  // The replacement on the same port joins the pool.
  instances[1] = await startInstance(configs[1], WORKERS);
});

test('rolling restart: SIGTERM each instance in turn mid-load, a replacement on the same port; no call fails', async (t) => {
  const cs = await clients();
  // nginx took the replaced instance out for fail_timeout (1 s) after its connections were refused.
  await sleep(1200);
  const load = runLoad(cs);
  const startedAt = Date.now();
  await sleep(1500);
  const restarts = [];
  for (let i = 0; i < INSTANCES; i++) {
    const old = instances[i];
    // A kept-alive connection straight to the instance, idle when the signal comes.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await callOn(agent, old.base, cs[0].sid, 1);
    const termAt = Date.now();
    const readyzBefore = await get(`${old.base}/readyz`);
    old.terminate();
    // Once both workers took the signal, and while the drain delay runs: /readyz says 503, a
    // request on the idle kept-alive connection is answered (and closes it), and so is one on
    // a new connection.
    while (drainingWorkers(old.log()) < WORKERS && old.alive() && Date.now() - termAt < DRAIN_DELAY_MS / 2) await sleep(10);
    const readyzDraining = await get(`${old.base}/readyz`);
    const onKept = await callOn(agent, old.base, cs[0].sid, 2);
    const onNew = await callOn(false, old.base, cs[0].sid, 3);
    agent.destroy();
    const exit = await old.exited;
    const exitAt = Date.now();
    instances[i] = await startInstance(configs[i], WORKERS);
    const readyAt = Date.now();
    restarts.push({ port: old.port, exit, readyzBefore: readyzBefore.status, readyzDraining: readyzDraining.status,
                    first, onKept, onNew,
                    drainMs: exitAt - termAt, replaceMs: readyAt - exitAt, termAt, exitAt, log: old.log() });
    // Back in nginx's rotation (fail_timeout) before the next one goes.
    await sleep(1200);
  }
  await sleep(1000);
  const records = await load.stop();
  const duration = (Date.now() - startedAt) / 1000;

  const tt = tally(records);
  t.diagnostic(`rolling restart: ${summary(tt)} in ${duration.toFixed(1)} s; ` +
               restarts.map((r) => `port ${r.port}: drained in ${r.drainMs} ms, replacement ready ${r.replaceMs} ms later, ` +
                                   `${records.filter((c) => lastUpstreamPort(c.upstream) === r.port && c.t1 >= r.termAt &&
                                                              c.t0 <= r.exitAt).length} calls answered while draining`).join('; '));
  const bad = records.filter((r) => r.outcome !== 'ok');
  assert.deepEqual(bad, [], `${bad.length} calls did not succeed`);
  assert.ok(tt.ok >= CLIENTS * 20, `only ${tt.ok} calls`);
  for (const r of restarts) {
    assert.deepEqual(r.exit, { code: 0, signal: null }, `instance on ${r.port} exit`);
    assert.equal(r.readyzBefore, 200);
    assert.equal(r.readyzDraining, 503, `instance on ${r.port}: /readyz during the drain delay`);
    assert.deepEqual(r.first, { status: 200, connection: 'keep-alive', reused: false, id: 1 });
    assert.deepEqual(r.onKept, { status: 200, connection: 'close', reused: true, id: 2 },
                     'a request on a kept-alive connection during the drain delay');
    assert.deepEqual(r.onNew, { status: 200, connection: 'close', reused: false, id: 3 },
                     'a request on a new connection during the drain delay');
    assert.ok(r.drainMs >= DRAIN_DELAY_MS, `instance on ${r.port} exited ${r.drainMs} ms after SIGTERM`);
    assert.match(r.log, /drain delay 1000 ms/);
    assert.match(r.log, /drained; exiting/);
    assert.doesNotMatch(r.log, /grace period of \d+ ms over/);
    // The draining instance kept answering: calls it served after the signal.
    const served = records.filter((c) => lastUpstreamPort(c.upstream) === r.port && c.t1 >= r.termAt && c.t0 <= r.exitAt);
    assert.ok(served.length > 0, `no call was answered by the instance on ${r.port} while it drained`);
  }
});
