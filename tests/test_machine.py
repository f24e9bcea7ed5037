"""A step sizes itself by the cores it may use, not by the machine's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kaleidoscope.steps import machine


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_a_pinned_process_counts_only_its_pinned_cores():
    probe = "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
    probe += "from kaleidoscope.steps import machine; print(machine.usable_cores(), os.cpu_count())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    usable, machine_cores = map(int, done.stdout.split())
    assert usable == 1
    assert machine.usable_cores() == len(os.sched_getaffinity(0)) <= machine_cores
