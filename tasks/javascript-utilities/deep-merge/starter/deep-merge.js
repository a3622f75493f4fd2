'use strict';
/**
 * Merge an override configuration into a base configuration. See the statement.
 *
 * @param {object} base plain object
 * @param {object} override plain object whose values win
 * @param {{arrays?: 'replace' | 'concat'}} [options]
 * @returns {object} a new plain object; the inputs are never modified
 */
function deepMerge(base, override, { arrays = 'replace' } = {}) {
  // TODO: merge recursively. This shallow version is where many codebases start.
  return Object.assign({}, base, override);
}

module.exports = { deepMerge };
