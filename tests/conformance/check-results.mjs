#!/usr/bin/env node
// Re-reads the results of one conformance run and fails when any check outside the
// expected-failure scenarios is not SUCCESS/INFO. The suite's own exit code is not enough:
// a scenario can exit 0 while one of its checks says WARNING, and a run that dies early
// leaves scenarios without results.
//   usage: check-results.mjs <results-dir> <expected-failures.yml> [--partial]
// <results-dir> holds server-<scenario>-<timestamp>/checks.json and suite.log (the suite's
// stdout). Without --partial, every scenario announced in suite.log must have a checks.json.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const [dir, expectedFile, ...flags] = process.argv.slice(2);
if (!dir || !expectedFile) {
  console.error('usage: check-results.mjs <results-dir> <expected-failures.yml> [--partial]');
  process.exit(2);
}
const partial = flags.includes('--partial');

// expected-failures.yml: "server:" followed by "  - name" lines (comments allowed).
function readExpected(file) {
  const names = new Set();
  let inServer = false;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.replace(/#.*$/, '').trimEnd();
    if (!line.trim()) continue;
    if (/^\S/.test(line)) { inServer = line.startsWith('server:'); continue; }
    const m = line.match(/^\s+-\s+(\S+)/);
    if (m && inServer) names.add(m[1]);
  }
  return names;
}
const expected = readExpected(expectedFile);

// Scenario results: directory server-<scenario>-<ISO timestamp with - for : and .>.
const results = new Map();
for (const entry of readdirSync(dir)) {
  const m = entry.match(/^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/);
  const file = join(dir, entry, 'checks.json');
  if (!m || !statSync(join(dir, entry)).isDirectory() || !existsSync(file)) continue;
  let checks;
  try {
    checks = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    checks = [{ id: 'checks.json', status: 'FAILURE', errorMessage: `unreadable: ${e.message}` }];
  }
  results.set(m[1], (results.get(m[1]) || []).concat(checks));
}

let bad = 0;
const lines = [];
if (!partial) {
  const logFile = join(dir, 'suite.log');
  const announced = existsSync(logFile)
    ? [...readFileSync(logFile, 'utf8').matchAll(/=== Running scenario: (\S+) ===/g)].map((m) => m[1])
    : [];
  if (announced.length === 0) { lines.push('FAIL  suite.log names no scenario: the suite did not run'); bad++; }
  for (const s of announced) {
    if (!results.has(s)) { lines.push(`FAIL  ${s}: no checks.json`); bad++; }
  }
}
if (results.size === 0) { lines.push('FAIL  no checks.json found'); bad++; }

let passed = 0, expectedFailed = 0;
for (const [scenario, checks] of [...results].sort()) {
  const isExpected = expected.has(scenario);
  const notOk = checks.filter((c) => c.status !== 'SUCCESS' && c.status !== 'INFO');
  for (const c of checks) {
    if (c.status === 'WARNING' || c.status === 'SKIPPED') {
      lines.push(`${c.status.padEnd(5)} ${scenario} / ${c.id}: ${c.errorMessage || c.description || ''}`);
    }
  }
  if (notOk.length === 0) {
    if (isExpected) { lines.push(`FAIL  ${scenario}: listed in expected failures but passes (remove it)`); bad++; }
    else passed++;
    continue;
  }
  if (isExpected) { expectedFailed++; continue; }
  bad++;
  for (const c of notOk) lines.push(`FAIL  ${scenario} / ${c.id} [${c.status}]: ${c.errorMessage || c.description || ''}`);
}
for (const l of lines) console.log(l);
console.log(`check-results: ${passed} scenarios passed, ${expectedFailed} expected failures, ${bad} problems`);
process.exit(bad === 0 ? 0 : 1);
