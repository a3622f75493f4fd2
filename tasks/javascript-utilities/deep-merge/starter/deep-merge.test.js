'use strict';
// Public examples. Run them with `node --test` in this folder.
const test = require('node:test');
const assert = require('node:assert/strict');
const { deepMerge } = require('./deep-merge.js');

test('nested objects are merged key by key; the override wins', () => {
  const defaults = { server: { host: 'localhost', port: 8080 }, debug: false };
  const local = { server: { port: 9090 }, debug: true };
  assert.deepEqual(deepMerge(defaults, local), { server: { host: 'localhost', port: 9090 }, debug: true });
});

test('arrays are replaced unless arrays: "concat"', () => {
  const base = { plugins: ['a', 'b'] };
  const override = { plugins: ['c'] };
  assert.deepEqual(deepMerge(base, override), { plugins: ['c'] });
  assert.deepEqual(deepMerge(base, override, { arrays: 'concat' }), { plugins: ['a', 'b', 'c'] });
});

test('a __proto__ key from JSON is ignored and pollutes nothing', () => {
  const hostile = JSON.parse('{"__proto__": {"isAdmin": true}, "theme": "dark"}');
  const merged = deepMerge({ theme: 'light' }, hostile);
  assert.deepEqual(merged, { theme: 'dark' });
  assert.equal({}.isAdmin, undefined);
});
