"""Output names: deterministic, collision-free and readable.

``<source key>__<labels joined by '+'>.<ext>``, the labels in applied order, ``original`` for
the empty subset: ``cats/tom.jpg`` with flip_lr then brightness gives
``cats/tom.jpg__flip_lr+brightness.jpg``. Keeping the source's full key (extension included)
means ``tom.jpg`` and ``tom.png`` never collide; labels are unique within a spec and match
``[a-z][a-z0-9_]*``, so ``__`` and ``+`` separate them unambiguously.
"""

from __future__ import annotations

from typing import Sequence

from steps.imageio import EXTENSIONS

ORIGINAL = "original"


def subset_label(labels: Sequence[str]) -> str:
    """``["flip_lr", "brightness"]`` -> ``flip_lr+brightness``; ``[]`` -> ``original``."""
    return "+".join(labels) or ORIGINAL


def output_key(source_key: str, labels: Sequence[str], output_format: str) -> str:
    """The destination key of ``source_key`` transformed by ``labels`` (in applied order)."""
    return f"{source_key}__{subset_label(labels)}{EXTENSIONS[output_format]}"
