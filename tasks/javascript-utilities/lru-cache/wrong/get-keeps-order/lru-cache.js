'use strict';
/** A plausible wrong answer: get() does not make the key the most recently used. */

class LRUCache {
  #capacity;
  #onEvict;
  #entries = new Map(); // least recently used first

  constructor(capacity, { onEvict } = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRUCache: capacity must be an integer >= 1, not ${String(capacity)}`);
    }
    this.#capacity = capacity;
    this.#onEvict = onEvict;
  }

  get size() {
    return this.#entries.size;
  }

  get(key) {
    if (!this.#entries.has(key)) return undefined;
    return this.#entries.get(key);
  }

  peek(key) {
    return this.#entries.get(key);
  }

  has(key) {
    return this.#entries.has(key);
  }

  set(key, value) {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) {
      const [oldKey, oldValue] = this.#entries.entries().next().value;
      this.#entries.delete(oldKey);
      if (this.#onEvict) this.#onEvict(oldKey, oldValue);
    }
    return this;
  }

  delete(key) {
    return this.#entries.delete(key);
  }

  clear() {
    this.#entries.clear();
  }

  keys() {
    return [...this.#entries.keys()].reverse();
  }

  entries() {
    return [...this.#entries.entries()].reverse();
  }
}

module.exports = { LRUCache };
