'use strict';
/**
 * Hidden grader harness, run in the sandbox as `node /grader/grade.js`.
 *
 * Each case of ./cases.js runs in a fresh worker thread: its own globals,
 * prototypes and module cache, so a polluted Object.prototype, a crash, an
 * endless loop or a `process.exit()` in one case cannot touch another (in a
 * worker, process.exit ends only that worker). Workers run this harness and
 * the cases from copies read at start-up, so a submission that rewrites files
 * under /grader cannot change later cases. A case that does not report fails.
 *
 * Only the main thread, which never loads the candidate's code, writes
 * /grader/results.json (tasktrial's script-results format), after stopping
 * any process the submission left behind. No timing is measured: the per-case
 * timeout only stops a submission that never returns.
 */
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const RESULTS = '/grader/results.json';
const WORKSPACE = '/workspace';
const CASE_TIMEOUT_MS = 15000;
const MESSAGE_CAP = 1500;

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

/** The cases module, evaluated from its source text. */
function loadSuite(source) {
  const module = { exports: {} };
  new Function('module', 'exports', 'require', source)(module, module.exports, require);
  return module.exports;
}

/** In a worker: load the candidate's module and run one case. */
function runCase({ name, casesSource }) {
  let outcome;
  try {
    const suite = loadSuite(casesSource);
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
function spawnCase(harnessSource, casesSource, name) {
  return new Promise((resolve) => {
    const worker = new Worker(harnessSource, {
      eval: true,
      workerData: { name, casesSource },
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

/** Stop whatever the submission left running, then (re)create the results file. */
function writeResults(tests) {
  try {
    process.kill(-1, 'SIGKILL'); // every process of the sandbox user but this one (and init)
  } catch (error) {
    if (error.code !== 'ESRCH') throw error;
  }
  fs.chmodSync(path.dirname(RESULTS), 0o700);
  fs.rmSync(RESULTS, { force: true, recursive: true });
  fs.writeFileSync(RESULTS, JSON.stringify({ tests }));
}

async function main() {
  const harnessSource = fs.readFileSync(__filename, 'utf8');
  const casesSource = fs.readFileSync(path.join(__dirname, 'cases.js'), 'utf8');
  const suite = loadSuite(casesSource);
  const missing = !fs.existsSync(path.join(WORKSPACE, suite.module));
  const tests = [];
  for (const name of Object.keys(suite.cases)) {
    const outcome = missing
      ? { ok: false, message: `${suite.module} is missing from the submission` }
      : await spawnCase(harnessSource, casesSource, name);
    tests.push({ name, score: outcome.ok ? 1 : 0, max_score: 1, status: outcome.ok ? 'passed' : 'failed', output: outcome.ok ? '' : outcome.message });
  }
  writeResults(tests);
}

if (isMainThread) {
  main();
} else {
  runCase(workerData);
}
