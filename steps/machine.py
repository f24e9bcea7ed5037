"""What this machine gives a step to compute with."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, not the machine's count.

    ``os.cpu_count()`` counts every core of the machine, so a process pinned with ``taskset`` (or
    given a cpuset) would start more threads or workers than it has cores, and they would take
    turns on them.
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1
