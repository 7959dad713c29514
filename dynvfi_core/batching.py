"""Batching of frame pairs: models stack only equal-sized frames into one tensor.

One rule for every caller (the router, batch interpolation for annotation, ``eval-triplets``):
consecutive items of one shape, at most ``batch_size`` at a time, in input order, so callers can
put results back by position and a mixed-size set still batches where it can.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def shape_batches(items: Iterable[T], shape_of: Callable[[T], Hashable], batch_size: int) -> Iterator[list[T]]:
    """Split ``items`` (kept in order, consumed lazily) into runs of at most ``batch_size`` with
    equal ``shape_of(item)``; a generator of items is read one at a time, so loading stays lazy."""
    run: list[T] = []
    run_shape: Hashable = None
    for item in items:
        shape = shape_of(item)
        if run and (len(run) == batch_size or shape != run_shape):
            yield run
            run = []
        if not run:
            run_shape = shape
        run.append(item)
    if run:
        yield run
