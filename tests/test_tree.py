"""The transform tree: operation count, order, bounded memory, equivalence with recomputation."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from kaleidoscope.steps import ops, samplers, tree
from kaleidoscope.steps.operations import defaults
from tests.conftest import synthetic_image


class Counted:
    """An image stand-in that counts how many exist at once."""

    alive = 0
    peak = 0

    def __init__(self, path: tuple):
        self.path = path
        Counted.alive += 1
        Counted.peak = max(Counted.peak, Counted.alive)

    def __del__(self):
        Counted.alive -= 1


def counting_operations(count: int, calls: list):
    def make(index):
        def apply(image: Counted) -> Counted:
            calls.append(index)
            return Counted(image.path + (index,))

        return apply

    return [make(index) for index in range(count)]


@pytest.mark.parametrize("count", range(0, 9))
def test_each_subset_costs_one_operation_call(count):
    calls: list = []
    produced = [subset for subset, _ in tree.walk(Counted(()), counting_operations(count, calls))]
    assert len(produced) == 2**count
    assert len(calls) == 2**count - 1 == tree.applications(count)
    assert sorted(produced) == sorted(
        subset for size in range(count + 1) for subset in itertools.combinations(range(count), size)
    )


@pytest.mark.parametrize("count, min_ops, max_ops", [(6, 0, 2), (6, 1, 6), (5, 2, 3), (4, 4, 4), (4, 0, 0)])
def test_combination_bounds(count, min_ops, max_ops):
    calls: list = []
    produced = [
        s for s, _ in tree.walk(Counted(()), counting_operations(count, calls), min_ops=min_ops, max_ops=max_ops)
    ]
    assert all(min_ops <= len(s) <= max_ops for s in produced)
    assert len(produced) == sum(
        1 for size in range(min_ops, max_ops + 1) for _ in itertools.combinations(range(count), size)
    )
    assert len(calls) == tree.applications(count, max_ops=max_ops)


def test_each_image_is_computed_from_its_parent():
    for subset, image in tree.walk(Counted(()), counting_operations(5, [])):
        assert image.path == subset


def test_depth_first_keeps_at_most_n_plus_one_images_alive():
    Counted.alive = Counted.peak = 0
    for _subset, _image in tree.walk(Counted(()), counting_operations(8, [])):
        pass
    del _image
    assert Counted.peak <= 9
    assert Counted.peak == 9  # the deepest path really is walked


def test_six_operations_cost_a_third_of_naive_recomputation():
    assert tree.applications(6) == 63
    assert tree.naive_applications(6) == 192
    assert tree.applications(6) / tree.naive_applications(6) < 1 / 3


def test_subsets_lists_walk_order():
    assert tree.subsets(3) == [(), (0,), (0, 1), (0, 1, 2), (0, 2), (1,), (1, 2), (2,)]


def test_tree_results_equal_recomputing_every_subset_from_the_original():
    """Reusing the parent must give exactly what applying the subset from scratch gives."""
    names = ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"]
    rng = np.random.default_rng(3)
    params = [samplers.SAMPLERS[name](rng, defaults(name)) for name in names]
    operations = [
        functools.partial(lambda image, apply, p: apply(image, p), apply=ops.FUNCTIONS[name], p=p)
        for name, p in zip(names, params, strict=True)
    ]
    original = synthetic_image(40, 40, seed=9)
    for subset, image in tree.walk(original, operations):
        expected = original
        for index in subset:
            expected = operations[index](expected)
        np.testing.assert_array_equal(image, expected, err_msg=str(subset))
