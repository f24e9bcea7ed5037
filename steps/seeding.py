"""Reproducible randomness: (seed, source key, operation position) -> a numpy Generator.

The source key is the key *relative to the source location*, so the same dataset copied to
another bucket or folder gives byte-identical outputs. numpy's PCG64 and SeedSequence are
specified bit for bit, so a run reproduces on any machine and a retried shard rewrites the same
bytes.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Position of the normalize step; operations take positions 1..N in spec order.
NORMALIZE_POSITION = 0


def generator(seed: int, source_key: str, position: int) -> np.random.Generator:
    """Return the generator an operation at ``position`` samples its parameters from.

    Args:
        seed: The spec's seed.
        source_key: The image's key relative to the source location.
        position: ``NORMALIZE_POSITION`` or the 1-based position of the operation in the spec.
    """
    digest = hashlib.sha256(source_key.encode("utf-8")).digest()
    key_words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, position, *key_words])))
