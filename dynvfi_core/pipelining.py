"""Stages of a streaming job in their own threads, joined by bounded queues.

Video decoding (FFmpeg), encoding (x264) and the models (PyTorch) all release the GIL, so running
them one after another leaves cores idle that threads can use: while the model interpolates a
chunk, the next chunk is decoded and the previous one encoded. The queues are bounded so that a
fast stage cannot pile up frames in memory ahead of a slow one.

Both helpers make failures loud instead of hanging: an exception in a stage's thread is raised
again, unchanged, in the thread that feeds or drains it, and closing a stage (on any error,
Ctrl-C included) stops its thread and waits for it, so no thread outlives the job and nothing is
written after the job gave up.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Self, TypeVar

T = TypeVar("T")

#: how often a blocked put/get looks whether the other side has stopped or failed
POLL_S = 0.1


class _Done:
    """End of a stage's items; carries the exception that ended it early, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class BackgroundIterator(Generic[T]):
    """Iterate ``items`` in a thread ``maxsize`` items ahead of the consumer.

    ``busy_s`` is the time spent producing items (inside the source iterator), which is the
    stage's own cost even when it overlaps with others. Use as a context manager: leaving it
    early stops the thread and closes the source (a generator's ``finally`` runs in the thread).
    """

    def __init__(self, items: Iterable[T], maxsize: int, name: str) -> None:
        self.busy_s = 0.0
        self._items = items
        self._queue: queue.Queue[T | _Done] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dynvfi-{name}", daemon=True)
        self._thread.start()

    def _put(self, item: T | _Done) -> bool:
        """Queue ``item`` unless the consumer has stopped listening; False if it has."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        source = iter(self._items)
        try:
            while True:
                start = time.perf_counter()
                try:
                    item = next(source)
                except StopIteration:
                    break
                finally:
                    self.busy_s += time.perf_counter() - start
                if not self._put(item):
                    return
            self._put(_Done())
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(_Done(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError(f"{self._thread.name} stopped without finishing") from None
                continue
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self) -> None:
        """Stop the thread (dropping what it queued) and wait for it."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=POLL_S)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BackgroundSink(Generic[T]):
    """Apply ``consume`` to each item :meth:`put`, in order, in a thread.

    ``busy_s`` is the time spent inside ``consume``. :meth:`finish` waits for the queued items
    and raises the first failure; :meth:`put` raises it as soon as it is known, so the producer
    stops instead of filling a queue nobody drains. Leaving the context manager without
    :meth:`finish` (an error elsewhere) drops the queued items and stops the thread.
    """

    def __init__(self, consume: Callable[[T], None], maxsize: int, name: str) -> None:
        self.busy_s = 0.0
        self._consume = consume
        self._queue: queue.Queue[T | _Done] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"dynvfi-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, _Done):
                return
            start = time.perf_counter()
            try:
                self._consume(item)
            except BaseException as exc:  # raised again by put/finish in the feeding thread
                self._error = exc
                return
            finally:
                self.busy_s += time.perf_counter() - start

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive():
            raise RuntimeError(f"{self._thread.name} stopped without finishing")

    def put(self, item: T) -> None:
        """Queue ``item`` (blocking while the queue is full); raises the consumer's failure."""
        self._enqueue(item)

    def _enqueue(self, item: T | _Done) -> None:
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=POLL_S)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """Wait until every queued item is consumed; raises the consumer's failure."""
        self._enqueue(_Done())
        while self._thread.is_alive():
            self._thread.join(POLL_S)
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop the thread without consuming what is still queued, and wait for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
