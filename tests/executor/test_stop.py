"""Stopping the local executor, however it is stopped: its node processes stop with it.

What is expected is what a cluster does to a workflow's pods: a pod being deleted gets SIGTERM,
then SIGKILL once its grace period has passed (Kubernetes, "Pod Lifecycle: Termination of Pods",
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination), and no pod
outlives the workflow that started it. docs/local-executor.md states the executor's grace: 5 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.test_s3 import ROOT

GRACE = 5.0  # the executor's documented grace period (executor.execute's grace_seconds)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited, only its parent's wait is missing


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Forever:
    """``kaleidoscope run-workflow`` of one node that writes its pid, then sleeps for 10 minutes."""

    def __init__(self, tmp_path: Path, ignore_sigterm: bool = False):
        self.pid_file = tmp_path / "node.pid"
        # The executor maps every /tmp path of a container to the node's private /tmp (a pod's
        # emptyDir): the host path is spelled in two pieces so the node writes where the test reads.
        where = f"{str(self.pid_file)[:1]!r} + {str(self.pid_file)[1:]!r}"
        script = (
            "import os, signal, sys, time\n"
            + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if ignore_sigterm else "")
            + f"path = {where}\n"
            + "open(path + '.tmp', 'w').write(str(os.getpid()))\n"
            + "os.replace(path + '.tmp', path)\n"
            + "time.sleep(600)\n"
        )
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": "forever-"},
            "spec": {
                "entrypoint": "forever",
                "templates": [
                    {
                        "name": "forever",
                        "container": {"image": "python:3.11", "command": [sys.executable, "-c", script]},
                    }
                ],
            },
        }
        path = tmp_path / "forever.yaml"
        path.write_text(yaml.safe_dump(manifest))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kaleidoscope.workflows.cli", "run-workflow", str(path), "--no-progress"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own group, as a shell job: the tests signal the group
        )
        _wait_until(self.pid_file.exists, 60, "the node to start")
        self.node = int(self.pid_file.read_text())
        assert _alive(self.node)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_executor_stops_its_nodes_and_prints_the_tree_so_far(tmp_path, signum, code):
    run = Forever(tmp_path)
    started = time.monotonic()
    run.process.send_signal(signum)  # what `timeout` or Ctrl-C sends
    returncode, out = run.finish()
    assert returncode == code
    assert not _alive(run.node)
    assert time.monotonic() - started < GRACE  # the node exits on SIGTERM: no wait for SIGKILL
    # The tree so far, as the executor prints at the end of any run: the node, failed.
    assert "forever" in out and "Failed" in out and signal.Signals(signum).name in out


def test_a_node_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    run = Forever(tmp_path, ignore_sigterm=True)
    started = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    time.sleep(1)
    run.process.send_signal(signal.SIGTERM)  # impatience changes nothing: the same stop goes on
    returncode, _ = run.finish()
    elapsed = time.monotonic() - started
    assert returncode == 143 and not _alive(run.node)
    assert GRACE - 0.5 <= elapsed < GRACE + 10, elapsed


def test_nodes_die_with_an_executor_killed_with_its_whole_process_group(tmp_path):
    # kill -9 -- -PGID: what a supervisor or the OOM killer of a session does. The executor gets
    # no chance to stop anything; its nodes (each in a session of its own) must not run on.
    run = Forever(tmp_path)
    os.killpg(run.process.pid, signal.SIGKILL)
    run.process.wait()
    _wait_until(lambda: not _alive(run.node), 5, "the orphaned node to die")
