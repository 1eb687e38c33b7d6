"""The circuit breaker's state machine (pure) and a call that hangs past its timeout."""

from __future__ import annotations

import threading
import time

import pytest

from qianbao.platform.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Breaker,
    CallTimedOut,
    Policy,
    State,
    decide,
    record,
)
from qianbao.platform.errors import DependencyUnavailable

POLICY = Policy(failures=3, window_s=10.0, open_s=5.0, timeout_s=0.2, calls_max=2)


def test_failures_in_the_window_open_then_one_probe_closes_it():
    s = State()
    for t in (0.0, 1.0):
        s = record(POLICY, s, False, t)
    assert s.state == CLOSED
    assert record(POLICY, s, False, 20.0).state == CLOSED  # the old failures left the window
    s = record(POLICY, s, False, 2.0)
    assert s.state == OPEN
    assert decide(POLICY, s, 6.9) == (s, False)  # open: refused
    probing, allowed = decide(POLICY, s, 7.0)
    assert (probing.state, allowed) == (HALF_OPEN, True)
    assert decide(POLICY, probing, 7.1)[1] is False  # one probe at a time
    assert record(POLICY, probing, True, 7.2) == State()
    assert record(POLICY, probing, False, 7.2).state == OPEN


def test_a_hanging_call_times_out_and_a_full_pool_fails_fast():
    breaker = Breaker("test.hang", POLICY)
    release = threading.Event()
    started = time.monotonic()
    for _ in range(2):
        with pytest.raises(CallTimedOut):
            breaker.call(lambda: release.wait(5))
    assert time.monotonic() - started < 2 * POLICY.timeout_s + 0.5
    with pytest.raises(DependencyUnavailable):  # both threads still hang: not queued
        breaker.call(lambda: "never")
    release.set()
    time.sleep(0.1)
    assert breaker.state.state == OPEN  # three failures (two timeouts, one busy)
    with pytest.raises(DependencyUnavailable):
        breaker.call(lambda: "refused while open")
    breaker.reset()
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.call(lambda: (False,), failed=lambda r: not r[0]) == (False,)
    assert breaker.describe()["recent_failures"] == 1
