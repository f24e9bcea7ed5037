"""Output names: deterministic, collision-free and readable.

``<source key>__<labels joined by '+'>.<ext>``, the labels in applied order, ``original`` for
the empty subset: ``cats/tom.jpg`` with flip_lr then brightness gives
``cats/tom.jpg__flip_lr+brightness.jpg``. Keeping the source's full key (extension included)
means ``tom.jpg`` and ``tom.png`` never collide; labels are unique within a spec and match
``[a-z][a-z0-9_]*``, so ``__`` and ``+`` separate them unambiguously.

With the ``spread`` layout (the default for S3 destinations) the name is preceded by two hex
digits of the source key's SHA-256 — ``3f/cats/tom.jpg__flip_lr.jpg`` — so a large run's writes
spread over 256 prefixes instead of hitting one (S3 scales request rates per prefix, about 3,500
PUT/s each), while all variants of one image stay together under one prefix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from kaleidoscope.steps.formats import EXTENSIONS

ORIGINAL = "original"


def subset_label(labels: Sequence[str]) -> str:
    """``["flip_lr", "brightness"]`` -> ``flip_lr+brightness``; ``[]`` -> ``original``."""
    return "+".join(labels) or ORIGINAL


def output_prefix(source_key: str, layout: str) -> str:
    """What every output of ``source_key`` starts with: ``<key>__`` or ``<hh>/<key>__``."""
    if layout == "spread":
        return f"{hashlib.sha256(source_key.encode('utf-8')).hexdigest()[:2]}/{source_key}__"
    return f"{source_key}__"


def output_key(source_key: str, labels: Sequence[str], output_format: str, layout: str = "mirror") -> str:
    """The destination key of ``source_key`` transformed by ``labels`` (in applied order)."""
    return f"{output_prefix(source_key, layout)}{subset_label(labels)}{EXTENSIONS[output_format]}"
