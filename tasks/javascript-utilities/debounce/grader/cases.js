'use strict';
/**
 * Hidden cases for debounce. Time is virtual: every case drives a FakeTimers
 * instance, and the real clock and global timers throw (see setup), so no
 * case depends on how fast the machine is.
 */
const util = require('node:util');

const show = (value) => util.inspect(value, { depth: 6, breakLength: Infinity });

function same(actual, expected, what) {
  if (!util.isDeepStrictEqual(actual, expected)) {
    const hint = show(actual) === show(expected) ? ' (they print the same but differ in prototypes or types)' : '';
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}${hint}`);
  }
}

function throwsKind(fn, kind, what) {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof kind)) throw new Error(`${what}: expected a ${kind.name}, got ${show(error)}`);
    return;
  }
  throw new Error(`${what}: expected a ${kind.name}, nothing was thrown`);
}

/** A virtual clock: timers fire only inside advance(), in due-time order. */
class FakeTimers {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (callback, ms = 0, ...args) => {
      if (typeof callback !== 'function') throw new TypeError('setTimeout needs a callback function');
      const id = this.nextId++;
      const delay = Math.max(0, Number(ms) || 0);
      this.timers.set(id, { due: this.now + delay, callback, args });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  advance(ms) {
    const target = this.now + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.due <= target && (next === null || timer.due < next.due)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === null) break;
      this.timers.delete(nextId);
      this.now = next.due;
      next.callback(...next.args);
    }
    this.now = target;
  }

  at(time) {
    this.advance(time - this.now);
  }
}

function recorder(result = undefined) {
  const calls = [];
  const fn = function (...args) {
    calls.push({ args, self: this, at: fn.timers ? fn.timers.now : undefined });
    return typeof result === 'function' ? result(...args) : result;
  };
  fn.calls = calls;
  return fn;
}

function setUp(mod, wait, options = {}) {
  if (typeof mod.debounce !== 'function') {
    throw new Error('debounce.js must export a function named debounce: module.exports = { debounce }');
  }
  const timers = new FakeTimers();
  const fn = recorder(options.result);
  fn.timers = timers;
  const { result, ...rest } = options;
  const debounced = mod.debounce(fn, wait, { ...rest, timers });
  if (typeof debounced !== 'function') throw new Error(`debounce(...) must return a function, got ${show(debounced)}`);
  return { timers, fn, debounced };
}

const argsOf = (fn) => fn.calls.map((call) => call.args);
const timesOf = (fn) => fn.calls.map((call) => call.at);

function forbid(owner, name, what) {
  if (owner && typeof owner[name] === 'function') {
    Object.defineProperty(owner, name, {
      configurable: true,
      writable: true,
      value: () => {
        throw new Error(`debounce must not use ${what}: take time only from options.timers (setTimeout/clearTimeout)`);
      },
    });
  }
}

module.exports = {
  module: 'debounce.js',
  setup() {
    forbid(Date, 'now', 'Date.now()');
    forbid(globalThis.performance, 'now', 'performance.now()');
    for (const name of ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate']) {
      forbid(globalThis, name, `the global ${name}`);
    }
  },
  cases: {
    'trailing-runs-once-after-burst'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100);
      debounced('a');
      timers.at(30);
      debounced('b');
      timers.at(60);
      debounced('c');
      timers.at(159);
      same(fn.calls.length, 0, 'calls before the burst ended (calls at t=0,30,60, wait 100; now t=159)');
      timers.at(160);
      same(argsOf(fn), [['c']], 'calls at t=160: one call with the arguments of the last call');
      timers.at(1000);
      same(fn.calls.length, 1, 'calls by t=1000');
    },
    'trailing-passes-all-arguments-and-this'(mod) {
      const { timers, fn, debounced } = setUp(mod, 50);
      const owner = { name: 'owner', save: debounced };
      owner.save(1, 'two', { three: 3 });
      timers.advance(50);
      same(argsOf(fn), [[1, 'two', { three: 3 }]], 'arguments of the trailing call');
      if (fn.calls[0].self !== owner) throw new Error(`fn must be called with the same this as the last call; got ${show(fn.calls[0].self)}`);
    },
    'timer-restarts-on-each-call'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100);
      for (let i = 0; i < 5; i++) {
        debounced(i);
        timers.advance(99);
      }
      same(fn.calls.length, 0, 'calls after five calls 99 ms apart (wait 100)');
      timers.advance(1);
      same(argsOf(fn), [[4]], 'calls 100 ms after the last call');
      same(timesOf(fn), [496], 'time of the trailing call');
    },
    'separate-bursts-run-separately'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100);
      debounced('first-a');
      debounced('first-b');
      timers.at(100);
      timers.at(250);
      debounced('second');
      timers.at(350);
      same(argsOf(fn), [['first-b'], ['second']], 'calls after two bursts');
      same(timesOf(fn), [100, 350], 'times of the two calls');
    },
    'wait-zero-runs-on-next-tick'(mod) {
      const { timers, fn, debounced } = setUp(mod, 0);
      debounced('x');
      debounced('y');
      same(fn.calls.length, 0, 'calls before any timer fired (wait 0 still defers the call)');
      timers.advance(0);
      same(argsOf(fn), [['y']], 'calls once the 0 ms timer fired');
    },
    'leading-runs-immediately'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { leading: true, trailing: false });
      debounced('a');
      same(argsOf(fn), [['a']], 'calls right after the first call (leading: true)');
      timers.at(10);
      debounced('b');
      timers.at(20);
      debounced('c');
      timers.at(500);
      same(argsOf(fn), [['a']], 'calls after the burst (trailing: false)');
      debounced('d');
      same(argsOf(fn), [['a'], ['d']], 'calls after a call that starts a new burst');
    },
    'leading-burst-extends-with-each-call'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { leading: true, trailing: false });
      debounced(0);
      timers.at(80);
      debounced(80);
      timers.at(160);
      debounced(160);
      timers.at(240);
      debounced(240);
      same(argsOf(fn), [[0]], 'calls during one burst of calls 80 ms apart (wait 100)');
      timers.at(340);
      debounced(340);
      same(argsOf(fn), [[0], [340]], 'calls after a call 100 ms after the previous one');
    },
    'leading-and-trailing-burst'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { leading: true, trailing: true });
      debounced('a');
      timers.at(20);
      debounced('b');
      timers.at(40);
      debounced('c');
      timers.at(139);
      same(argsOf(fn), [['a']], 'calls before the burst ended');
      timers.at(140);
      same(argsOf(fn), [['a'], ['c']], 'calls after the burst ended (leading + trailing)');
      same(timesOf(fn), [0, 140], 'times of the calls');
    },
    'leading-and-trailing-single-call-runs-once'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { leading: true, trailing: true });
      debounced('only');
      timers.advance(1000);
      same(argsOf(fn), [['only']], 'calls for a burst of one call (leading + trailing)');
      debounced('next');
      timers.advance(1000);
      same(argsOf(fn), [['only'], ['next']], 'calls after a second burst of one call');
    },
    'cancel-drops-the-pending-call'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100);
      debounced('dropped');
      timers.advance(50);
      debounced.cancel();
      timers.advance(1000);
      same(fn.calls.length, 0, 'calls after cancel()');
      debounced('kept');
      timers.advance(100);
      same(argsOf(fn), [['kept']], 'calls of a burst started after cancel()');
    },
    'cancel-starts-a-new-leading-burst'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { leading: true, trailing: false });
      debounced(1);
      timers.advance(10);
      debounced.cancel();
      debounced(2);
      same(argsOf(fn), [[1], [2]], 'calls when a call follows cancel() (leading: true)');
    },
    'flush-runs-now-and-returns-the-result'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { result: (x) => x * 10 });
      debounced(1);
      debounced(2);
      timers.advance(30);
      same(debounced.flush(), 20, 'flush() return value');
      same(argsOf(fn), [[2]], 'calls right after flush()');
      timers.advance(1000);
      same(fn.calls.length, 1, 'calls after the burst’s time ran out (flush already made the call)');
    },
    'flush-without-pending-call-does-nothing'(mod) {
      const { timers, fn, debounced } = setUp(mod, 100, { result: () => 'r' });
      same(debounced.flush(), undefined, 'flush() before any call');
      debounced('a');
      timers.advance(100);
      same(debounced.flush(), undefined, 'flush() after the trailing call already ran');
      same(fn.calls.length, 1, 'calls');
    },
    'pending-reports-a-scheduled-call'(mod) {
      const { timers, debounced } = setUp(mod, 100);
      if (typeof debounced.pending !== 'function') throw new Error('the debounced function needs a pending() method');
      same(debounced.pending(), false, 'pending() before any call');
      debounced();
      same(debounced.pending(), true, 'pending() right after a call');
      timers.advance(100);
      same(debounced.pending(), false, 'pending() after the trailing call ran');
      debounced();
      debounced.cancel();
      same(debounced.pending(), false, 'pending() after cancel()');
    },
    'returns-undefined'(mod) {
      const { debounced } = setUp(mod, 100, { leading: true, result: () => 'value' });
      same(debounced('x'), undefined, 'value returned by the debounced function');
    },
    'instances-are-independent'(mod) {
      const one = setUp(mod, 100);
      const timers = one.timers;
      const other = recorder();
      const second = mod.debounce(other, 30, { timers });
      one.debounced('one');
      second('two');
      timers.advance(30);
      same(argsOf(other), [['two']], 'calls of the second debounced function at t=30');
      same(one.fn.calls.length, 0, 'calls of the first debounced function at t=30');
      timers.advance(70);
      same(argsOf(one.fn), [['one']], 'calls of the first debounced function at t=100');
    },
    'rejects-bad-arguments'(mod) {
      const timers = new FakeTimers();
      if (typeof mod.debounce !== 'function') throw new Error('debounce.js must export a function named debounce');
      throwsKind(() => mod.debounce('not a function', 10, { timers }), TypeError, 'debounce("not a function", 10)');
      throwsKind(() => mod.debounce(() => {}, -1, { timers }), TypeError, 'debounce(fn, -1)');
      throwsKind(() => mod.debounce(() => {}, NaN, { timers }), TypeError, 'debounce(fn, NaN)');
      throwsKind(() => mod.debounce(() => {}, '100', { timers }), TypeError, 'debounce(fn, "100")');
      throwsKind(() => mod.debounce(() => {}, Infinity, { timers }), TypeError, 'debounce(fn, Infinity)');
    },
  },
};
