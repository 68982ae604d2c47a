"""Pacing with a short burst (monitor.pacing): a handful goes at once, the long-run rate stays one per interval."""

from __future__ import annotations

import threading

from monitor.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_one_request_per_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    waits = [pacer.reserve("host", 0.5, burst=4) for _ in range(7)]
    assert waits == [0.0, 0.0, 0.0, 0.0, 0.5, 1.0, 1.5]


def test_with_a_burst_of_one_it_is_the_plain_pause() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    assert [pacer.reserve("host", 0.5) for _ in range(3)] == [0.0, 0.5, 1.0]
    clock.now += 10  # a quiet spell: the next request goes at once, and the one after it waits again
    assert [pacer.reserve("host", 0.5) for _ in range(2)] == [0.0, 0.5]


def test_the_bucket_refills_at_one_request_per_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    for _ in range(3):
        pacer.reserve("host", 1.0, burst=3)
    assert pacer.wait("host", 1.0, burst=3) == 1.0
    clock.now += 1.0  # one interval later: room for exactly one more at once
    assert pacer.reserve("host", 1.0, burst=3) == 0.0
    assert pacer.reserve("host", 1.0, burst=3) == 1.0


def test_the_long_run_rate_never_exceeds_one_per_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    start = clock.now
    sent = []
    for _ in range(100):
        clock.now += pacer.reserve("host", 0.5, burst=4)  # the caller sleeps what it is told
        sent.append(clock.now)
    # 100 requests: 4 at once, then 96 at 0.5 s: the last goes 48 s after the first.
    assert sent[-1] - start == 48.0
    assert all(b - a >= 0.5 for a, b in zip(sent[3:], sent[4:], strict=False))


def test_wait_reserves_nothing_and_keys_are_independent() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    pacer.reserve("a", 1.0)
    assert pacer.wait("a", 1.0) == 1.0
    assert pacer.wait("a", 1.0) == 1.0  # asking again took no slot
    assert pacer.reserve("b", 1.0) == 0.0  # another host is not held up by "a"
    assert pacer.reserve("a", 0.0) == 0.0  # no interval: never paced


def test_threads_asking_at_once_get_distinct_slots() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    waits: list[float] = []
    lock = threading.Lock()

    def ask() -> None:
        w = pacer.reserve("host", 0.5, burst=2)
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]
