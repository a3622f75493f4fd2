import pytest

from retry import retry


class Script:
    """A callable that raises or returns the scripted values in order."""

    def __init__(self, *values):
        self.values = list(values)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        value = self.values.pop(0)
        if isinstance(value, BaseException):
            raise value
        return value


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.waits = []

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def test_first_success_needs_no_wait():
    clock = FakeClock()
    assert retry(Script("done"), attempts=3, base_delay=1, max_delay=5, sleep=clock.sleep, clock=clock) == "done"
    assert clock.waits == []


def test_delays_double_and_are_capped():
    clock = FakeClock()
    fn = Script(*[OSError()] * 5, "ok")
    assert retry(fn, attempts=6, base_delay=0.5, max_delay=3, sleep=clock.sleep, clock=clock) == "ok"
    assert clock.waits == [0.5, 1.0, 2.0, 3, 3]


def test_gives_up_after_attempts_with_last_error():
    clock = FakeClock()
    last = TimeoutError("third")
    fn = Script(OSError("first"), OSError("second"), last)
    with pytest.raises(TimeoutError) as raised:
        retry(fn, attempts=3, base_delay=1, max_delay=10, sleep=clock.sleep, clock=clock)
    assert raised.value is last
    assert fn.calls == 3


def test_other_exceptions_propagate_at_once():
    clock = FakeClock()
    fn = Script(KeyError("boom"), "never")
    with pytest.raises(KeyError):
        retry(fn, attempts=5, base_delay=1, max_delay=1, retry_on=(OSError,), sleep=clock.sleep, clock=clock)
    assert fn.calls == 1


def test_deadline_stops_before_an_overlong_wait():
    clock = FakeClock()
    fn = Script(OSError(), OSError(), OSError(), "late")
    with pytest.raises(OSError):
        retry(fn, attempts=10, base_delay=1, max_delay=100, deadline=3.5, sleep=clock.sleep, clock=clock)
    assert clock.waits == [1, 2]


def test_deadline_allows_a_wait_that_fits_exactly():
    clock = FakeClock()
    fn = Script(OSError(), OSError(), "ok")
    assert retry(fn, attempts=3, base_delay=1, max_delay=10, deadline=3, sleep=clock.sleep, clock=clock) == "ok"


@pytest.mark.parametrize("kwargs", [dict(attempts=0, base_delay=1, max_delay=1),
                                    dict(attempts=2, base_delay=-1, max_delay=1)])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        retry(Script("x"), **kwargs)
