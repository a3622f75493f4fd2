'use strict';
// Public examples. Run them with `node --test` in this folder.
const test = require('node:test');
const assert = require('node:assert/strict');
const { debounce } = require('./debounce.js');

/** A fake clock: timers run only when you call advance(ms). */
function fakeTimers() {
  let now = 0;
  let nextId = 1;
  const pending = new Map();
  return {
    setTimeout(callback, ms) {
      const id = nextId++;
      pending.set(id, { due: now + ms, callback });
      return id;
    },
    clearTimeout(id) {
      pending.delete(id);
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const due = [...pending].filter(([, t]) => t.due <= target).sort((a, b) => a[1].due - b[1].due || a[0] - b[0]);
        if (due.length === 0) break;
        const [id, timer] = due[0];
        pending.delete(id);
        now = timer.due;
        timer.callback();
      }
      now = target;
    },
  };
}

test('a burst of calls runs fn once, with the last arguments, wait ms after the last call', () => {
  const timers = fakeTimers();
  const calls = [];
  const save = debounce((text) => calls.push(text), 100, { timers });
  save('h');
  timers.advance(30);
  save('he');
  timers.advance(30);
  save('hey');
  timers.advance(99);
  assert.deepEqual(calls, []);
  timers.advance(1);
  assert.deepEqual(calls, ['hey']);
});

test('leading: true runs fn at the start of a burst', () => {
  const timers = fakeTimers();
  const calls = [];
  const click = debounce((n) => calls.push(n), 100, { leading: true, trailing: false, timers });
  click(1);
  click(2);
  assert.deepEqual(calls, [1]);
  timers.advance(100);
  click(3);
  assert.deepEqual(calls, [1, 3]);
});

test('cancel() drops a pending call', () => {
  const timers = fakeTimers();
  const calls = [];
  const save = debounce((text) => calls.push(text), 100, { timers });
  save('draft');
  save.cancel();
  timers.advance(500);
  assert.deepEqual(calls, []);
});
