"""Reading ahead: run an iterator in a background thread while the caller works on its items.

A SyncFeed catch-up alternates between waiting for the next page and storing the last
one.  Reading ahead overlaps the two, and lets the poll store several pages that have
already arrived in one transaction (each commit rewrites every index page the batch
touched, so fewer, larger commits are much cheaper).  Nothing here knows about feeds:
items, the end, and an error raised by the iterator arrive in the order they happened.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2
_POLL_SECONDS = 0.1  # how often a blocked reader checks that it is still wanted


class Prefetch(Generic[T]):
    """``with Prefetch(pages, depth=4) as ahead: for page in ahead: ... ahead.ready()``.

    At most ``depth`` items wait unread.  An exception raised by ``source`` is raised to
    the caller when it reaches that point, after the items produced before it.  Leaving
    the ``with`` block stops the reader (it finishes the item it is producing, at most).
    """

    def __init__(self, source: Iterator[T], depth: int = 4, name: str = "prefetch") -> None:
        self._queue: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=max(1, depth))
        self._buffer: deque[tuple[int, object]] = deque()
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(source,), name=name, daemon=True)
        self._thread.start()

    def _run(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put((_ITEM, item)):
                    return
            self._put((_END, None))
        except BaseException as exc:  # handed to the consumer, which decides what it means
            self._put((_ERROR, exc))

    def _put(self, message: tuple[int, object]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if not self._buffer:
            if self._done:
                raise StopIteration
            self._buffer.append(self._queue.get())
        return self._take()

    def ready(self, limit: int) -> list[T]:
        """Up to ``limit`` further items that have already arrived, without waiting.

        Stops before the end or an error, which the next ``next()`` reports.
        """
        while True:
            try:
                self._buffer.append(self._queue.get_nowait())
            except queue.Empty:
                break
        out: list[T] = []
        while self._buffer and self._buffer[0][0] == _ITEM and len(out) < limit:
            out.append(self._take())
        return out

    def _take(self) -> T:
        kind, value = self._buffer.popleft()
        if kind == _ITEM:
            return value  # type: ignore[return-value]
        self._done = True
        self._buffer.clear()
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Prefetch[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
