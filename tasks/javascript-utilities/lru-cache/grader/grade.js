'use strict';
/**
 * Hidden grader harness, run in the sandbox as `node /grader/grade.js`.
 *
 * Each case of ./cases.js runs in a fresh worker thread: its own globals,
 * prototypes and module cache, so a polluted Object.prototype, a crash, an
 * endless loop or a `process.exit()` in one case cannot touch another (in a
 * worker, process.exit ends only that worker). A case that does not report
 * fails. The harness writes /grader/results.json (tasktrial's script-results
 * format); the candidate's stdout is never read as results. No timing is
 * measured: the per-case timeout only stops a submission that never returns.
 */
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const RESULTS = '/grader/results.json';
const WORKSPACE = '/workspace';
const CASE_TIMEOUT_MS = 15000;
const MESSAGE_CAP = 1500;

const suite = require('./cases.js');

function cap(text) {
  text = String(text);
  return text.length <= MESSAGE_CAP ? text : `${text.slice(0, MESSAGE_CAP)}...`;
}

function describe(error) {
  if (error instanceof Error) {
    const kind = error.name && error.name !== 'Error' && error.name !== 'AssertionError' ? `${error.name}: ` : '';
    return cap(`${kind}${error.message}`);
  }
  return cap(`threw a non-Error value: ${util.inspect(error)}`);
}

/** In the worker: load the candidate's module and run one case. */
function runCase(name) {
  let outcome;
  try {
    if (suite.setup) suite.setup();
    const candidate = require(path.join(WORKSPACE, suite.module));
    suite.cases[name](candidate);
    outcome = { ok: true };
  } catch (error) {
    outcome = { ok: false, message: describe(error) };
  }
  parentPort.postMessage(outcome);
}

/** In the main thread: one case in a fresh worker; always resolves to {ok, message}. */
function spawnCase(name) {
  return new Promise((resolve) => {
    const worker = new Worker(__filename, {
      workerData: { name },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 96 },
    });
    let stderr = '';
    worker.stderr.on('data', (chunk) => {
      if (stderr.length < MESSAGE_CAP) stderr += chunk;
    });
    worker.stdout.resume();
    let settled = false;
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.terminate().finally(() => resolve(outcome));
    };
    const timer = setTimeout(() => finish({ ok: false, message: `did not finish within ${CASE_TIMEOUT_MS / 1000} s: an endless loop?` }),
      CASE_TIMEOUT_MS);
    worker.on('message', (outcome) => finish(outcome && typeof outcome.ok === 'boolean' ? outcome : { ok: false, message: 'the case reported garbage' }));
    worker.on('error', (error) => finish({ ok: false, message: `the case crashed: ${describe(error)}` }));
    worker.on('exit', (code) => finish({
      ok: false,
      message: cap(`the case ended (exit code ${code}) before it finished: does the module call process.exit?${stderr ? `\n${stderr.trim()}` : ''}`),
    }));
  });
}

async function main() {
  const names = Object.keys(suite.cases);
  const tests = [];
  const missing = !fs.existsSync(path.join(WORKSPACE, suite.module));
  for (const name of names) {
    const outcome = missing ? { ok: false, message: `${suite.module} is missing from the submission` } : await spawnCase(name);
    tests.push({ name, score: outcome.ok ? 1 : 0, max_score: 1, status: outcome.ok ? 'passed' : 'failed', output: outcome.ok ? '' : outcome.message });
  }
  fs.writeFileSync(RESULTS, JSON.stringify({ tests }));
}

if (isMainThread) {
  main();
} else {
  runCase(workerData.name);
}
