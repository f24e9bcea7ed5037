"""The podman runtime's watchdog: once the executor is gone, remove every container of its run.

``python -m kaleidoscope.workflows.executor.reaper RUN_ID GRACE``, started by the runtime with its
standard input the read end of a pipe only the executor holds open. The read returns when the
executor closed it or died in any way (SIGKILL and OOM kills included, which no handler in the
executor sees); then each container labelled with the run's id is stopped (SIGTERM, SIGKILL after
GRACE seconds) and removed. The sweep repeats until two in a row find nothing, for a ``podman
run`` that was still creating its container when the executor died.
"""

from __future__ import annotations

import sys
import time

from kaleidoscope.workflows.executor import podman

SWEEP_PAUSE = 0.5  # seconds between sweeps


def main(argv: list[str]) -> int:
    run_id, grace = argv[0], float(argv[1])
    sys.stdin.buffer.read()  # returns at EOF: the executor closed the pipe or died
    empty = 0
    while empty < 2:
        empty = 0 if podman.remove_run(run_id, grace) else empty + 1
        time.sleep(SWEEP_PAUSE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
