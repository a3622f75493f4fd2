"""Retry a callable with exponential backoff. See the statement."""

import time


def retry(fn, *, attempts, base_delay, max_delay, deadline=None,
          retry_on=(Exception,), sleep=time.sleep, clock=time.monotonic):
    raise NotImplementedError("write me")
