'use strict';
/** npm-style semver range matching. Reference solution. */

const NR = '0|[1-9]\\d*';
const IDENT = `(?:${NR}|\\d*[A-Za-z-][0-9A-Za-z-]*)`;
const PRERELEASE = `${IDENT}(?:\\.${IDENT})*`;
const BUILD = '[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*';
const VERSION = new RegExp(`^(${NR})\\.(${NR})\\.(${NR})(?:-(${PRERELEASE}))?(?:\\+${BUILD})?$`);
const XR = `${NR}|[xX*]`;
const PARTIAL = new RegExp(`^(${XR})(?:\\.(${XR})(?:\\.(${XR})(?:-(${PRERELEASE}))?(?:\\+${BUILD})?)?)?$`);

class Invalid extends Error {}

/** A full version: { major, minor, patch, pre: [identifiers] } or null. */
function parseVersion(text) {
  const m = VERSION.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a, b) {
  if (a.length === 0 || b.length === 0) return (a.length === 0) - (b.length === 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i >= a.length) return -1;
    if (i >= b.length) return 1;
    const [x, y] = [a[i], b[i]];
    const [xn, yn] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    if (xn && yn) {
      if (Number(x) !== Number(y)) return Number(x) < Number(y) ? -1 : 1;
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

function compare(a, b) {
  for (const part of ['major', 'minor', 'patch']) {
    if (a[part] !== b[part]) return a[part] < b[part] ? -1 : 1;
  }
  return comparePre(a.pre, b.pre);
}

const v = (major, minor, patch, pre = []) => ({ major, minor, patch, pre });
const cmp = (op, version) => ({ op, version });
const LOWEST = ['0'];

/** A partial version: numbers, with null for a wildcard or a missing part. */
function parsePartial(text) {
  const m = PARTIAL.exec(text);
  if (!m) throw new Invalid(text);
  const parts = [m[1], m[2], m[3]].map((p) => (p === undefined || /^[xX*]$/.test(p) ? null : Number(p)));
  const firstWild = parts.indexOf(null);
  if (firstWild >= 0 && parts.slice(firstWild).some((p) => p !== null)) throw new Invalid(text);
  if (m[4] && firstWild >= 0) throw new Invalid(text);
  return { parts, pre: m[4] ? m[4].split('.') : [] };
}

function xRange({ parts: [major, minor, patch], pre }) {
  if (major === null) return [];
  if (minor === null) return [cmp('>=', v(major, 0, 0)), cmp('<', v(major + 1, 0, 0, LOWEST))];
  if (patch === null) return [cmp('>=', v(major, minor, 0)), cmp('<', v(major, minor + 1, 0, LOWEST))];
  return [cmp('=', v(major, minor, patch, pre))];
}

function tilde({ parts: [major, minor, patch], pre }) {
  if (major === null) return [];
  if (minor === null) return [cmp('>=', v(major, 0, 0)), cmp('<', v(major + 1, 0, 0, LOWEST))];
  return [cmp('>=', v(major, minor, patch ?? 0, pre)), cmp('<', v(major, minor + 1, 0, LOWEST))];
}

function caret({ parts: [major, minor, patch], pre }) {
  if (major === null) return [];
  const low = v(major, minor ?? 0, patch ?? 0, pre);
  let high;
  if (major > 0 || minor === null) high = v(major + 1, 0, 0, LOWEST);
  else if (minor > 0 || patch === null) high = v(0, minor + 1, 0, LOWEST);
  else high = v(0, 0, patch + 1, LOWEST);
  return [cmp('>=', low), cmp('<', high)];
}

function hyphen(lowText, highText) {
  const low = parsePartial(lowText);
  const high = parsePartial(highText);
  const out = [];
  const [lm, ln, lp] = low.parts;
  if (lm !== null) out.push(cmp('>=', v(lm, ln ?? 0, lp ?? 0, low.pre)));
  const [hm, hn, hp] = high.parts;
  if (hm === null) return out;
  if (hn === null) out.push(cmp('<', v(hm + 1, 0, 0, LOWEST)));
  else if (hp === null) out.push(cmp('<', v(hm, hn + 1, 0, LOWEST)));
  else out.push(cmp('<=', v(hm, hn, hp, high.pre)));
  return out;
}

function parseComparator(token) {
  const m = /^(<=|>=|<|>|=|~|\^)?(.*)$/.exec(token);
  const [, op, rest] = m;
  if (op === '~') return tilde(parsePartial(rest));
  if (op === '^') return caret(parsePartial(rest));
  if (op) {
    const version = parseVersion(rest);
    if (!version) throw new Invalid(token);
    return [cmp(op, version)];
  }
  return xRange(parsePartial(rest));
}

/** A range as a list of comparator sets (each a list of {op, version}). Throws Invalid. */
function parseRange(range) {
  return range.split('||').map((raw) => {
    const set = raw.trim();
    if (set === '') {
      if (range.trim() === '') return [];
      throw new Invalid(range);
    }
    const tokens = set.split(/\s+/);
    if (tokens.includes('-')) {
      if (tokens.length !== 3 || tokens[1] !== '-') throw new Invalid(set);
      return hyphen(tokens[0], tokens[2]);
    }
    return tokens.flatMap(parseComparator);
  });
}

function test({ op, version }, candidate) {
  const c = compare(candidate, version);
  return { '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0, '=': c === 0 }[op];
}

function satisfiesSet(version, set) {
  if (!set.every((comparator) => test(comparator, version))) return false;
  if (version.pre.length === 0) return true;
  return set.some(({ version: other }) => other.pre.length > 0
    && other.major === version.major && other.minor === version.minor && other.patch === version.patch);
}

/** 'true', 'false' or 'invalid'. */
function check(versionText, rangeText) {
  const version = parseVersion(versionText);
  if (!version) return 'invalid';
  let sets;
  try {
    sets = parseRange(rangeText);
  } catch (error) {
    if (error instanceof Invalid) return 'invalid';
    throw error;
  }
  return String(sets.some((set) => satisfiesSet(version, set)));
}

function main() {
  const input = require('node:fs').readFileSync(0, 'utf8');
  const out = [];
  for (const line of input.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    const match = /^(\S+)\s*(.*)$/.exec(trimmed);
    out.push(check(match[1], match[2]));
  }
  process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
}

if (require.main === module) main();

module.exports = { check, parseVersion, compare };
