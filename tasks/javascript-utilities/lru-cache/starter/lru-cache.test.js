'use strict';
// Public examples. Run them with `node --test` in this folder.
const test = require('node:test');
const assert = require('node:assert/strict');
const { LRUCache } = require('./lru-cache.js');

test('a full cache evicts the least recently used entry', () => {
  const evicted = [];
  const cache = new LRUCache(2, { onEvict: (key, value) => evicted.push([key, value]) });
  cache.set('a', 1).set('b', 2);
  assert.equal(cache.get('a'), 1); // 'a' is now the most recently used
  cache.set('c', 3); // full: 'b' goes
  assert.deepEqual(evicted, [['b', 2]]);
  assert.equal(cache.has('b'), false);
  assert.deepEqual(cache.keys(), ['c', 'a']);
  assert.equal(cache.size, 2);
});

test('peek and has do not change the order', () => {
  const cache = new LRUCache(2);
  cache.set('a', 1).set('b', 2);
  assert.equal(cache.peek('a'), 1);
  assert.equal(cache.has('a'), true);
  cache.set('c', 3);
  assert.deepEqual(cache.keys(), ['c', 'b']);
});

test('capacity must be a positive integer', () => {
  assert.throws(() => new LRUCache(0), RangeError);
});
