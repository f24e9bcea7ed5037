"""Peak-memory readings for the benchmarks' measured child processes (no heavy imports, so a
child's baseline is its own)."""

from __future__ import annotations

import re


def status() -> dict[str, int]:
    """VmRSS now and VmHWM, the high-water mark of this process's own memory map, in kB."""
    try:
        with open("/proc/self/status") as handle:
            return {k: int(v) for k, v in re.findall(r"(VmHWM|VmRSS):\s+(\d+)", handle.read())}
    except OSError:
        return {}


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS ("5" to clear_refs), so a later peak is the run's alone."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False
