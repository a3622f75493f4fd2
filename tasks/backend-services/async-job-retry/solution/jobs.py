"""Run async jobs with retries, backoff, jitter and a deadline. Reference solution."""

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
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays must not be negative")
    if not 0 <= jitter <= 1:
        raise ValueError(f"jitter must be within [0, 1], got {jitter}")
    if deadline is not None and deadline <= 0:
        raise ValueError(f"deadline must be above 0, got {deadline}")
    started = clock()
    for attempt in range(1, attempts + 1):
        try:
            return await job()
        except retry_on as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            if attempt == attempts:
                raise JobFailed("attempts", attempt, exc) from exc
            wait = min(max_delay, base_delay * 2 ** (attempt - 1)) * (1 - jitter * rand())
            if deadline is not None and clock() - started + wait > deadline:
                raise JobFailed("deadline", attempt, exc) from exc
        await sleep(wait)


async def run_all(jobs, *, concurrency, **options):
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    slots = asyncio.Semaphore(concurrency)

    async def one(job):
        async with slots:
            try:
                return await run_with_retry(job, **options)
            except Exception as exc:  # a job's failure is its result, not run_all's
                return exc

    values = await asyncio.gather(*(one(job) for job in jobs.values()))
    return dict(zip(jobs, values))
