"""Run async jobs with retries, backoff, jitter and a deadline. See the statement."""

import asyncio
import random
import time


class JobFailed(Exception):
    """A job gave up: ``reason`` is "attempts" or "deadline"; ``attempts`` calls were made."""

    def __init__(self, reason, attempts, last_error):
        super().__init__(f"job gave up ({reason}) after {attempts} attempt(s): {last_error!r}")
        self.reason = reason
        self.attempts = attempts
        self.last_error = last_error


async def run_with_retry(job, *, attempts, base_delay, max_delay, jitter=0.0, deadline=None,
                         retry_on=(Exception,), sleep=asyncio.sleep, clock=time.monotonic,
                         rand=random.random):
    raise NotImplementedError("write me")


async def run_all(jobs, *, concurrency, **options):
    raise NotImplementedError("write me")
