'use strict';
/** Debounce with leading/trailing edges and injectable timers. Reference solution. */

function debounce(fn, wait, { leading = false, trailing = true, timers = globalThis } = {}) {
  if (typeof fn !== 'function') throw new TypeError('debounce: fn must be a function');
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0) {
    throw new TypeError('debounce: wait must be a finite number >= 0');
  }
  let timer = null; // set while a burst is running
  let pendingArgs = null; // set while a trailing call is owed
  let pendingThis;

  function invoke() {
    const args = pendingArgs;
    const self = pendingThis;
    pendingArgs = null;
    pendingThis = undefined;
    return fn.apply(self, args);
  }

  function endBurst() {
    timer = null;
    if (trailing && pendingArgs !== null) invoke();
    pendingArgs = null;
  }

  function debounced(...args) {
    const startsBurst = timer === null;
    if (!startsBurst) timers.clearTimeout(timer);
    timer = timers.setTimeout(endBurst, wait);
    if (startsBurst && leading) {
      fn.apply(this, args);
      return undefined;
    }
    pendingArgs = args;
    pendingThis = this;
    return undefined;
  }

  debounced.cancel = () => {
    if (timer !== null) timers.clearTimeout(timer);
    timer = null;
    pendingArgs = null;
    pendingThis = undefined;
  };

  debounced.flush = () => {
    if (timer === null || !trailing || pendingArgs === null) return undefined;
    timers.clearTimeout(timer);
    timer = null;
    return invoke();
  };

  debounced.pending = () => timer !== null && trailing && pendingArgs !== null;

  return debounced;
}

module.exports = { debounce };
