'use strict';
/**
 * Debounce a function. See the statement for the exact rules.
 *
 * @param {Function} fn the function to call
 * @param {number} wait milliseconds of quiet that end a burst of calls
 * @param {{leading?: boolean, trailing?: boolean, timers?: {setTimeout: Function, clearTimeout: Function}}} [options]
 * @returns {Function} the debounced function, with cancel(), flush() and pending()
 */
function debounce(fn, wait, { leading = false, trailing = true, timers = globalThis } = {}) {
  // TODO: implement. Use only timers.setTimeout and timers.clearTimeout for time.
  throw new Error('debounce is not implemented yet');
}

module.exports = { debounce };
