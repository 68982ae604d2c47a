"""Reading ahead in a thread (monitor.sources.syncfeed.prefetch): order, errors, and stopping early."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from monitor.sources.syncfeed.prefetch import Prefetch


def _wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_items_arrive_in_order_and_the_iteration_ends() -> None:
    with Prefetch(iter(range(10)), depth=3) as ahead:
        assert list(ahead) == list(range(10))


def test_ready_returns_only_items_already_read_without_waiting() -> None:
    release = threading.Event()
    produced: list[int] = []

    def source() -> Iterator[int]:
        for i in range(3):
            produced.append(i)
            yield i
        release.wait(5)  # the fourth item is slow
        yield 3

    with Prefetch(source(), depth=8) as ahead:
        assert next(ahead) == 0
        _wait_until(lambda: len(produced) == 3)
        time.sleep(0.05)  # the reader has handed items 1 and 2 over by now
        started = time.monotonic()
        assert ahead.ready(10) == [1, 2]
        assert time.monotonic() - started < 1.0
        assert ahead.ready(10) == []
        release.set()
        assert list(ahead) == [3]


def test_ready_respects_its_limit() -> None:
    with Prefetch(iter(range(6)), depth=6) as ahead:
        assert next(ahead) == 0
        _wait_until(lambda: ahead._queue.full() or ahead._queue.qsize() >= 5)
        assert ahead.ready(2) == [1, 2]
        assert list(ahead) == [3, 4, 5]


def test_an_error_in_the_source_comes_after_the_items_before_it() -> None:
    def source() -> Iterator[str]:
        yield "page 1"
        yield "page 2"
        raise RuntimeError("page 3 failed")

    seen: list[str] = []
    with Prefetch(source(), depth=4) as ahead, pytest.raises(RuntimeError, match="page 3 failed"):
        for item in ahead:
            seen.append(item)
            seen.extend(ahead.ready(4))  # never swallows the error
    assert seen == ["page 1", "page 2"]


def test_leaving_early_stops_the_reader() -> None:
    consumed: list[int] = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            consumed.append(i)
            yield i
            i += 1

    ahead = Prefetch(endless(), depth=2, name="test-reader")
    with ahead:
        assert next(ahead) == 0
    assert not ahead._thread.is_alive()
    count = len(consumed)
    time.sleep(0.2)
    assert len(consumed) == count  # nothing is read after the block is left
    assert count <= 5  # at most the queue's depth ahead of the consumer, plus the one in hand
