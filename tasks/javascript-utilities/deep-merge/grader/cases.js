'use strict';
/** Hidden cases for deepMerge. Each runs in a fresh process, so a polluted prototype cannot leak. */
const util = require('node:util');

const show = (value) => util.inspect(value, { depth: 8, breakLength: Infinity });

function same(actual, expected, what) {
  if (!util.isDeepStrictEqual(actual, expected)) {
    const hint = show(actual) === show(expected) ? ' (they print the same but differ in prototypes or types)' : '';
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}${hint}`);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function throwsType(fn, what) {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof TypeError)) throw new Error(`${what}: expected a TypeError, got ${show(error)}`);
    return;
  }
  throw new Error(`${what}: expected a TypeError, nothing was thrown`);
}

function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

function merge(mod, ...args) {
  if (typeof mod.deepMerge !== 'function') {
    throw new Error('deep-merge.js must export a function named deepMerge: module.exports = { deepMerge }');
  }
  return mod.deepMerge(...args);
}

function notPolluted(names) {
  for (const name of names) {
    check(!Object.prototype.hasOwnProperty.call(Object.prototype, name),
      `Object.prototype was polluted: it now has a property ${JSON.stringify(name)}`);
  }
}

/** Every plain object or array reachable from `value`, with its path. */
function containers(value, path = '$', out = []) {
  if (value !== null && typeof value === 'object' && (Array.isArray(value) || [Object.prototype, null].includes(Object.getPrototypeOf(value)))) {
    out.push([path, value]);
    for (const key of Object.keys(value)) containers(value[key], `${path}.${key}`, out);
  }
  return out;
}

module.exports = {
  module: 'deep-merge.js',
  cases: {
    'merges-nested-objects'(mod) {
      const base = { db: { host: 'localhost', pool: { min: 1, max: 5 } }, name: 'app', tags: { a: 1 } };
      const override = { db: { pool: { max: 20 }, user: 'svc' }, extra: true };
      same(merge(mod, base, override), {
        db: { host: 'localhost', pool: { min: 1, max: 20 }, user: 'svc' }, name: 'app', tags: { a: 1 }, extra: true,
      }, 'deepMerge(base, override)');
    },
    'override-wins-when-types-differ'(mod) {
      same(merge(mod, { a: { nested: 1 }, b: 'text', c: 1, d: [1, 2], e: { x: 1 } },
        { a: 'flat', b: { nested: 2 }, c: false, d: { 0: 'obj' }, e: [9] }),
      { a: 'flat', b: { nested: 2 }, c: false, d: { 0: 'obj' }, e: [9] },
      'merging values of different types (object vs string, array vs object, ...)');
    },
    'null-replaces-undefined-keeps'(mod) {
      same(merge(mod, { a: 1, b: { c: 2 }, d: 'keep', e: { f: 1 } }, { a: null, b: null, d: undefined, e: { f: undefined, g: null } }),
        { a: null, b: null, d: 'keep', e: { f: 1, g: null } },
        'null in the override replaces; undefined keeps the base value');
      same(merge(mod, { a: null }, { a: { b: 1 } }), { a: { b: 1 } }, 'an object over null');
    },
    'arrays-replace-by-default'(mod) {
      same(merge(mod, { list: [1, 2, 3], nested: { list: ['a'] } }, { list: [4], nested: { list: [] } }),
        { list: [4], nested: { list: [] } }, 'arrays with the default options');
      same(merge(mod, { list: [1, 2] }, { list: [3] }, { arrays: 'replace' }), { list: [3] }, 'arrays with arrays: "replace"');
    },
    'arrays-concat-option'(mod) {
      same(merge(mod, { list: [1, { a: 1 }], nested: { list: ['a'] }, only: [1] }, { list: [2, [3]], nested: { list: ['b', 'c'] } }, { arrays: 'concat' }),
        { list: [1, { a: 1 }, 2, [3]], nested: { list: ['a', 'b', 'c'] }, only: [1] }, 'arrays with arrays: "concat"');
      same(merge(mod, { list: 'text' }, { list: [1] }, { arrays: 'concat' }), { list: [1] }, 'concat when only the override is an array');
    },
    'does-not-mutate-inputs'(mod) {
      const base = { a: { b: { c: 1 } }, list: [1, { d: 2 }] };
      const override = { a: { b: { e: 2 }, f: 3 }, list: [3], g: { h: 4 } };
      const before = JSON.stringify([base, override]);
      deepFreeze(base);
      deepFreeze(override);
      let result;
      try {
        result = merge(mod, base, override, { arrays: 'concat' });
      } catch (error) {
        throw new Error(`deepMerge threw on frozen inputs (does it write into them?): ${error.message}`);
      }
      same(JSON.stringify([base, override]), before, 'inputs after the merge');
      same(result, { a: { b: { c: 1, e: 2 }, f: 3 }, list: [1, { d: 2 }, 3], g: { h: 4 } }, 'result');
      check(!Object.isFrozen(result), 'the result must be a new, ordinary (not frozen) object');
    },
    'result-shares-nothing-with-inputs'(mod) {
      const base = { onlyBase: { x: [1, { y: 1 }] }, both: { z: { w: 1 } }, list: [{ k: 1 }] };
      const override = { onlyOverride: { p: { q: [2] } }, both: { v: { u: 1 } }, list: [{ k: 2 }] };
      const result = merge(mod, base, override);
      const inputs = new Set([...containers(base), ...containers(override)].map(([, value]) => value));
      check(!inputs.has(result), 'the result is one of the inputs; it must be a new object');
      for (const [path, value] of containers(result)) {
        check(!inputs.has(value), `${path} of the result is the same object as in an input; copy plain objects and arrays`);
      }
    },
    'ignores-proto-key-from-json'(mod) {
      const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": {"__proto__": {"deep": "yes"}, "ok": 1}}');
      const result = merge(mod, { a: { keep: 0 } }, hostile);
      notPolluted(['polluted', 'deep']);
      check(Object.getPrototypeOf(result) === Object.prototype, 'the result\'s prototype was changed by a "__proto__" key');
      check(Object.getPrototypeOf(result.a) === Object.prototype, 'result.a\'s prototype was changed by a "__proto__" key');
      same(result, { a: { keep: 0, ok: 1 } }, 'result of merging JSON with "__proto__" keys');
    },
    'ignores-constructor-and-prototype-keys'(mod) {
      const hostile = JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}, "prototype": {"x": 1}, "ok": true}');
      const result = merge(mod, {}, hostile);
      notPolluted(['polluted', 'x']);
      same(result, { ok: true }, 'result of merging "constructor" and "prototype" keys');
      check(result.constructor === Object, 'result.constructor must still be Object');
    },
    'ignores-forbidden-keys-in-base-and-arrays'(mod) {
      const base = JSON.parse('{"__proto__": {"fromBase": 1}, "list": [{"__proto__": {"inArray": 1}, "v": 1}], "keep": 1}');
      const result = merge(mod, base, { other: 2 });
      notPolluted(['fromBase', 'inArray']);
      same(result, { list: [{ v: 1 }], keep: 1, other: 2 }, 'result with "__proto__" keys in the base and inside arrays');
      check(Object.getPrototypeOf(result.list[0]) === Object.prototype, 'an object inside an array got a polluted prototype');
    },
    'non-plain-values-are-kept-by-reference'(mod) {
      class Point { constructor(x) { this.x = x; } }
      const date = new Date(0);
      const map = new Map([['k', 1]]);
      const point = new Point(1);
      const fn = () => 1;
      const pattern = /x/g;
      const result = merge(mod, { when: { year: 1970 }, point: { y: 2 }, keep: new Point(9) }, { when: date, map, point, fn, pattern });
      check(result.when === date, 'a Date in the override must be taken as is (same object), not merged or copied');
      check(result.map === map, 'a Map must be taken as is');
      check(result.point === point, 'a class instance must be taken as is, not merged into a plain object');
      check(result.fn === fn, 'a function must be taken as is');
      check(result.pattern === pattern, 'a RegExp must be taken as is');
      check(result.keep instanceof Point && result.keep.x === 9, 'a class instance only in the base must be kept');
    },
    'null-prototype-objects-are-plain'(mod) {
      const base = Object.assign(Object.create(null), { a: Object.assign(Object.create(null), { b: 1 }) });
      const override = Object.assign(Object.create(null), { a: { c: 2 } });
      const result = merge(mod, base, override);
      same(JSON.parse(JSON.stringify(result)), { a: { b: 1, c: 2 } }, 'merge of objects with a null prototype');
    },
    'rejects-non-plain-inputs'(mod) {
      class Config {}
      throwsType(() => merge(mod, null, {}), 'deepMerge(null, {})');
      throwsType(() => merge(mod, {}, undefined), 'deepMerge({}, undefined)');
      throwsType(() => merge(mod, [], {}), 'deepMerge([], {})');
      throwsType(() => merge(mod, {}, 'text'), 'deepMerge({}, "text")');
      throwsType(() => merge(mod, new Config(), {}), 'deepMerge(new Config(), {})');
      throwsType(() => merge(mod, {}, {}, { arrays: 'zip' }), 'deepMerge({}, {}, { arrays: "zip" })');
    },
    'empty-inputs-give-a-new-object'(mod) {
      const base = {};
      const override = {};
      const result = merge(mod, base, override);
      same(result, {}, 'deepMerge({}, {})');
      check(result !== base && result !== override, 'deepMerge({}, {}) must return a new object');
    },
    'deep-trees'(mod) {
      let base = { leaf: 'base' };
      let override = { extra: 'override' };
      let expected = { leaf: 'base', extra: 'override' };
      for (let depth = 0; depth < 200; depth++) {
        base = { child: base, [`b${depth}`]: depth };
        override = { child: override, [`o${depth}`]: depth };
        expected = { child: expected, [`b${depth}`]: depth, [`o${depth}`]: depth };
      }
      same(merge(mod, base, override), expected, 'merge of two trees 200 levels deep');
    },
  },
};
