'use strict';
/**
 * A least-recently-used cache with a fixed capacity. See the statement.
 */
class LRUCache {
  constructor(capacity, { onEvict } = {}) {
    this.capacity = capacity;
    this.onEvict = onEvict;
    this.store = {};
  }

  get size() {
    return Object.keys(this.store).length;
  }

  get(key) {
    // TODO: a read makes the entry the most recently used one.
    return this.store[key];
  }

  set(key, value) {
    // TODO: evict the least recently used entry when the cache is full.
    this.store[key] = value;
    return this;
  }

  // TODO: peek, has, delete, clear, keys, entries.
}

module.exports = { LRUCache };
