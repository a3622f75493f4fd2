'use strict';
// Public examples: each examples/NAME.in is fed to `node semver.js`, whose output must equal
// examples/NAME.out. Run them with `node --test` in this folder.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const examples = path.join(__dirname, 'examples');

for (const name of fs.readdirSync(examples).filter((file) => file.endsWith('.in')).sort()) {
  test(`examples/${name}`, () => {
    const input = fs.readFileSync(path.join(examples, name), 'utf8');
    const expected = fs.readFileSync(path.join(examples, name.replace(/\.in$/, '.out')), 'utf8');
    const run = spawnSync(process.execPath, [path.join(__dirname, 'semver.js')], { input, encoding: 'utf8' });
    assert.equal(run.status, 0, `semver.js exited with ${run.status}: ${run.stderr}`);
    const lines = input.split(/\r?\n/).filter((line) => line.trim() !== '');
    const got = run.stdout.trimEnd().split('\n');
    const want = expected.trimEnd().split('\n');
    lines.forEach((line, i) => assert.equal(got[i], want[i], `line ${i + 1}: ${line}`));
    assert.equal(got.length, want.length, 'number of output lines');
  });
}
