"""The one same-shape batching rule (dynvfi_core.batching.shape_batches), on hand-written cases."""

from __future__ import annotations

from dynvfi_core.batching import shape_batches


def test_runs_break_on_size_and_on_shape_change_and_keep_order() -> None:
    shapes = ["a", "a", "a", "b", "a", "a", "c", "c", "c", "c", "c"]
    got = list(shape_batches(range(len(shapes)), lambda i: shapes[i], 2))
    assert got == [[0, 1], [2], [3], [4, 5], [6, 7], [8, 9], [10]]


def test_items_are_read_lazily_and_empty_input_gives_nothing() -> None:
    read: list[int] = []

    def gen():
        for i in range(5):
            read.append(i)
            yield i

    batches = shape_batches(gen(), lambda i: i // 3, 10)
    assert next(batches) == [0, 1, 2] and read == [0, 1, 2, 3]  # one item of look-ahead only
    assert list(batches) == [[3, 4]]
    assert list(shape_batches([], lambda i: i, 4)) == []
