'use strict';
/** Deep merge of two configuration trees, safe against prototype pollution. Reference solution. */

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const ARRAY_MODES = new Set(['replace', 'concat']);

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function copy(value) {
  if (Array.isArray(value)) return value.map(copy);
  if (isPlainObject(value)) {
    const out = {};
    for (const key of Object.keys(value)) {
      if (!FORBIDDEN.has(key)) out[key] = copy(value[key]);
    }
    return out;
  }
  return value;
}

function mergeValues(base, override, arrays) {
  if (isPlainObject(base) && isPlainObject(override)) return mergeObjects(base, override, arrays);
  if (arrays === 'concat' && Array.isArray(base) && Array.isArray(override)) return [...base, ...override].map(copy);
  return copy(override);
}

function mergeObjects(base, override, arrays) {
  const out = {};
  for (const key of Object.keys(base)) {
    if (!FORBIDDEN.has(key)) out[key] = copy(base[key]);
  }
  for (const key of Object.keys(override)) {
    if (FORBIDDEN.has(key) || override[key] === undefined) continue;
    out[key] = Object.prototype.hasOwnProperty.call(out, key)
      ? mergeValues(out[key], override[key], arrays)
      : copy(override[key]);
  }
  return out;
}

function deepMerge(base, override, { arrays = 'replace' } = {}) {
  if (!isPlainObject(base)) throw new TypeError('deepMerge: base must be a plain object');
  if (!isPlainObject(override)) throw new TypeError('deepMerge: override must be a plain object');
  if (!ARRAY_MODES.has(arrays)) throw new TypeError(`deepMerge: arrays must be "replace" or "concat", not ${String(arrays)}`);
  return mergeObjects(base, override, arrays);
}

module.exports = { deepMerge };
