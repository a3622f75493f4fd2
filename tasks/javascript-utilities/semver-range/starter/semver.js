'use strict';
/**
 * `node semver.js`: for each line "VERSION RANGE" on stdin, print true, false or invalid.
 * See the statement for the grammar and the rules.
 */

/** 'true', 'false' or 'invalid' for one version and one range. */
function check(version, range) {
  // TODO: parse the version and the range, then apply the rules.
  return 'false';
}

function main() {
  const input = require('node:fs').readFileSync(0, 'utf8');
  const out = [];
  for (const line of input.split('\n')) {
    if (line.trim() === '') continue;
    const [version, ...rest] = line.trim().split(' ');
    out.push(check(version, rest.join(' ')));
  }
  process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
}

if (require.main === module) main();

module.exports = { check };
