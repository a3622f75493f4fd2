from retry import retry


def test_returns_value_after_transient_failures():
    outcomes = iter([ConnectionError(), ConnectionError(), "ok"])
    waits = []

    def flaky():
        value = next(outcomes)
        if isinstance(value, Exception):
            raise value
        return value

    assert retry(flaky, attempts=5, base_delay=0.1, max_delay=1.0, sleep=waits.append) == "ok"
    assert waits == [0.1, 0.2]
