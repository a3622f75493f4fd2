"""A plausible wrong answer: the deadline is accepted and ignored."""

import time


def retry(fn, *, attempts, base_delay, max_delay, deadline=None,
          retry_on=(Exception,), sleep=time.sleep, clock=time.monotonic):
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays must not be negative")
    started = clock()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except retry_on:
            if attempt == attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            sleep(delay)
