"""The transform tree: every allowed subset of N operations, each computed from its parent.

A subset is a tuple of increasing operation indices; its parent is the subset without its last
index, so walking the tree depth first applies each operation once per node: 2^N - 1
applications for all subsets instead of N * 2^(N-1) when every subset is recomputed from the
original. Depth first keeps only the path from the root alive (at most N + 1 images), and every
image is handed to the caller as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from math import comb
from typing import TypeVar

Image = TypeVar("Image")
Subset = tuple[int, ...]


def walk(
    image: Image,
    operations: Sequence[Callable[[Image], Image]],
    *,
    min_ops: int = 0,
    max_ops: int | None = None,
) -> Iterator[tuple[Subset, Image]]:
    """Yield ``(subset, image)`` for every subset with ``min_ops <= len(subset) <= max_ops``.

    Subsets shorter than ``min_ops`` are still computed (they are parents) but not yielded.
    Order is depth first, lexicographic by index: (), (0,), (0, 1), (0, 1, 2), ..., (1,), ...

    Args:
        image: The root image (the normalised original).
        operations: One callable per operation, image -> new image; never mutating its input.
        min_ops: Smallest subset yielded.
        max_ops: Largest subset computed; defaults to all operations.
    """
    count = len(operations)
    deepest = count if max_ops is None else min(max_ops, count)

    def visit(current: Image, subset: Subset) -> Iterator[tuple[Subset, Image]]:
        if len(subset) >= min_ops:
            yield subset, current
        if len(subset) == deepest:
            return
        start = subset[-1] + 1 if subset else 0
        for index in range(start, count):
            yield from visit(operations[index](current), subset + (index,))

    yield from visit(image, ())


def subsets(count: int, *, min_ops: int = 0, max_ops: int | None = None) -> list[Subset]:
    """The subsets :func:`walk` yields, in the same order, without computing anything."""
    return [subset for subset, _ in walk(None, [lambda image: image] * count, min_ops=min_ops, max_ops=max_ops)]


def applications(count: int, *, max_ops: int | None = None) -> int:
    """Operation calls :func:`walk` makes: one per non-empty subset up to ``max_ops``."""
    deepest = count if max_ops is None else min(max_ops, count)
    return sum(comb(count, k) for k in range(1, deepest + 1))


def naive_applications(count: int, *, max_ops: int | None = None) -> int:
    """Operation calls when every subset is recomputed from the original: sum of subset sizes."""
    deepest = count if max_ops is None else min(max_ops, count)
    return sum(k * comb(count, k) for k in range(1, deepest + 1))
