'use strict';
/** Hidden cases for LRUCache. The long sequence uses a fixed seed, so every run is identical. */
const util = require('node:util');

const show = (value) => util.inspect(value, { depth: 6, breakLength: Infinity, maxArrayLength: 20 });

function same(actual, expected, what) {
  if (!util.isDeepStrictEqual(actual, expected)) {
    const hint = show(actual) === show(expected) ? ' (they print the same but differ in prototypes or types)' : '';
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}${hint}`);
  }
}

function throwsRange(fn, what) {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof RangeError)) throw new Error(`${what}: expected a RangeError, got ${show(error)}`);
    return;
  }
  throw new Error(`${what}: expected a RangeError, nothing was thrown`);
}

function make(mod, capacity, options) {
  if (typeof mod.LRUCache !== 'function') {
    throw new Error('lru-cache.js must export a class named LRUCache: module.exports = { LRUCache }');
  }
  return new mod.LRUCache(capacity, options);
}

function withLog(mod, capacity) {
  const evicted = [];
  const cache = make(mod, capacity, { onEvict: (key, value) => evicted.push([key, value]) });
  return { cache, evicted };
}

function call(cache, method, ...args) {
  if (typeof cache[method] !== 'function') throw new Error(`LRUCache needs a ${method}() method`);
  return cache[method](...args);
}

/** The obvious, slow model the candidate's cache is compared with. */
class Model {
  constructor(capacity) {
    this.capacity = capacity;
    this.order = []; // [key, value], least recently used first
    this.evicted = [];
  }

  index(key) {
    return this.order.findIndex(([k]) => Object.is(k, key) || (k === 0 && key === 0));
  }

  get(key) {
    const i = this.index(key);
    if (i < 0) return undefined;
    const [entry] = this.order.splice(i, 1);
    this.order.push(entry);
    return entry[1];
  }

  set(key, value) {
    const i = this.index(key);
    if (i >= 0) this.order.splice(i, 1);
    this.order.push([key, value]);
    if (this.order.length > this.capacity) this.evicted.push(this.order.shift());
  }

  delete(key) {
    const i = this.index(key);
    if (i >= 0) this.order.splice(i, 1);
    return i >= 0;
  }
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = {
  module: 'lru-cache.js',
  cases: {
    'get-and-set'(mod) {
      const cache = make(mod, 3);
      same(cache.set('a', 1), cache, 'set() returns the cache itself');
      cache.set('b', { nested: true });
      same(cache.get('a'), 1, 'get("a")');
      same(cache.get('b'), { nested: true }, 'get("b")');
      same(cache.get('missing'), undefined, 'get of a missing key');
      same(cache.size, 2, 'size after two sets');
    },
    'evicts-least-recently-used'(mod) {
      const { cache, evicted } = withLog(mod, 3);
      cache.set('a', 1).set('b', 2).set('c', 3).set('d', 4);
      same(evicted, [['a', 1]], 'evictions after setting a, b, c, d with capacity 3');
      same(cache.has('a'), false, 'has("a") after its eviction');
      same(cache.size, 3, 'size');
      cache.set('e', 5);
      same(evicted, [['a', 1], ['b', 2]], 'evictions after also setting e');
    },
    'get-refreshes-recency'(mod) {
      const { cache, evicted } = withLog(mod, 3);
      cache.set('a', 1).set('b', 2).set('c', 3);
      cache.get('a');
      cache.get('b');
      cache.set('d', 4);
      same(evicted, [['c', 3]], 'evictions after get(a), get(b), set(d)');
      same(call(cache, 'keys'), ['d', 'b', 'a'], 'keys(), most recently used first');
    },
    'set-existing-key-updates-and-refreshes'(mod) {
      const { cache, evicted } = withLog(mod, 2);
      cache.set('a', 1).set('b', 2).set('a', 10);
      same(evicted, [], 'evictions after updating an existing key in a full cache');
      same(cache.size, 2, 'size after updating');
      cache.set('c', 3);
      same(evicted, [['b', 2]], 'evictions: the update made "a" the most recent');
      same(cache.get('a'), 10, 'the updated value');
    },
    'has-and-peek-do-not-refresh'(mod) {
      const { cache, evicted } = withLog(mod, 2);
      cache.set('a', 1).set('b', 2);
      same(call(cache, 'has', 'a'), true, 'has("a")');
      same(call(cache, 'peek', 'a'), 1, 'peek("a")');
      same(call(cache, 'peek', 'zz'), undefined, 'peek of a missing key');
      same(call(cache, 'has', 'zz'), false, 'has of a missing key');
      cache.set('c', 3);
      same(evicted, [['a', 1]], 'evictions: has() and peek() must not make "a" recent');
    },
    'on-evict-sees-the-new-entry'(mod) {
      const seen = [];
      let cache;
      cache = make(mod, 2, {
        onEvict: (key, value) => seen.push({ key, value, size: cache.size, hasNew: cache.has('c'), hasOld: cache.has(key) }),
      });
      cache.set('a', 1).set('b', 2).set('c', 3);
      same(seen, [{ key: 'a', value: 1, size: 2, hasNew: true, hasOld: false }],
        'inside onEvict: the evicted key is gone, the new one is in, size equals capacity');
    },
    'delete-and-clear'(mod) {
      const { cache, evicted } = withLog(mod, 3);
      cache.set('a', 1).set('b', 2).set('c', 3);
      same(call(cache, 'delete', 'b'), true, 'delete of a present key');
      same(call(cache, 'delete', 'b'), false, 'delete of a missing key');
      same(cache.size, 2, 'size after delete');
      cache.set('d', 4);
      same(evicted, [], 'evictions: a deleted entry frees its slot (and delete does not call onEvict)');
      call(cache, 'clear');
      same(cache.size, 0, 'size after clear()');
      same(call(cache, 'keys'), [], 'keys() after clear()');
      same(evicted, [], 'clear() does not call onEvict');
      cache.set('x', 1).set('y', 2).set('z', 3).set('w', 4);
      same(evicted, [['x', 1]], 'evictions after refilling a cleared cache');
    },
    'keys-and-entries-most-recent-first'(mod) {
      const cache = make(mod, 4);
      cache.set(1, 'one').set(2, 'two').set(3, 'three');
      cache.get(1);
      same(call(cache, 'keys'), [1, 3, 2], 'keys()');
      same(call(cache, 'entries'), [[1, 'one'], [3, 'three'], [2, 'two']], 'entries()');
      const keys = cache.keys();
      keys.push('outside');
      same(cache.keys(), [1, 3, 2], 'keys() must return a new array each time');
    },
    'capacity-one'(mod) {
      const { cache, evicted } = withLog(mod, 1);
      cache.set('a', 1).set('b', 2);
      same(evicted, [['a', 1]], 'evictions with capacity 1');
      same([cache.get('a'), cache.get('b'), cache.size], [undefined, 2, 1], '[get(a), get(b), size]');
      cache.set('b', 3);
      same(evicted, [['a', 1]], 'updating the only key evicts nothing');
    },
    'keys-compared-like-map'(mod) {
      const cache = make(mod, 10);
      const objA = { id: 1 };
      const objB = { id: 1 };
      cache.set(objA, 'A').set(objB, 'B').set(NaN, 'nan').set(1, 'number').set('1', 'string').set(-0, 'zero');
      same(cache.get(objA), 'A', 'get of an object key (by identity)');
      same(cache.get(objB), 'B', 'get of an equal-looking but different object key');
      same(cache.get(NaN), 'nan', 'get(NaN)');
      same([cache.get(1), cache.get('1')], ['number', 'string'], '1 and "1" are different keys');
      same(cache.get(0), 'zero', 'get(0) after set(-0)');
      same(cache.size, 6, 'size');
    },
    'undefined-values-are-entries'(mod) {
      const { cache, evicted } = withLog(mod, 2);
      cache.set('u', undefined).set('v', 1);
      same(call(cache, 'has', 'u'), true, 'has() of a key stored with the value undefined');
      same(cache.size, 2, 'size');
      cache.get('u');
      cache.set('w', 2);
      same(evicted, [['v', 1]], 'evictions: get() of an undefined value still refreshes it');
    },
    'size-is-a-read-only-number'(mod) {
      const cache = make(mod, 2);
      same(typeof cache.size, 'number', 'typeof cache.size (a getter, not a method)');
      cache.set('a', 1).set('b', 2).set('c', 3);
      same(cache.size, 2, 'size never exceeds capacity');
    },
    'rejects-bad-capacity'(mod) {
      for (const bad of [0, -1, 1.5, NaN, Infinity, '3', undefined]) {
        throwsRange(() => make(mod, bad), `new LRUCache(${show(bad)})`);
      }
    },
    'matches-a-model-over-a-long-sequence'(mod) {
      const random = prng(20260101);
      const capacity = 37;
      const model = new Model(capacity);
      const evicted = [];
      const cache = make(mod, capacity, { onEvict: (key, value) => evicted.push([key, value]) });
      for (let step = 1; step <= 20000; step++) {
        const key = Math.floor(random() * 80);
        const roll = random();
        let got;
        let want;
        let op;
        if (roll < 0.45) {
          op = `get(${key})`;
          got = cache.get(key);
          want = model.get(key);
        } else if (roll < 0.9) {
          op = `set(${key}, ${step})`;
          cache.set(key, step);
          model.set(key, step);
        } else {
          op = `delete(${key})`;
          got = call(cache, 'delete', key);
          want = model.delete(key);
        }
        if (!util.isDeepStrictEqual(got, want) || cache.size !== model.order.length || evicted.length !== model.evicted.length) {
          const returned = op.startsWith('set') ? '' : `returned ${show(got)} (expected ${show(want)}), `;
          throw new Error(`step ${step}, ${op} on a cache of capacity ${capacity}: ${returned}`
            + `size ${cache.size} (expected ${model.order.length}), ${evicted.length} evictions so far (expected ${model.evicted.length})`);
        }
      }
      same(evicted, model.evicted, 'every eviction of the sequence');
      same(cache.keys(), model.order.map(([key]) => key).reverse(), 'keys() at the end of the sequence');
    },
  },
};
