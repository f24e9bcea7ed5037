"""Argo's mutexes in the local executor: one workflow at a time per workflow-level mutex name,
between processes on this machine; one node at a time per template-level one, within a run and
between runs; required workflow parameters refused with exit 2 before anything runs.

Processes are ordered by what they write to a shared log and by gates (files a node waits for),
never by how long anything takes.
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.executor import execute, fields, load, synchronization
from tools import argo_golden

ROOT = Path(__file__).parents[2]
PATIENCE = 120  # seconds before a test gives up waiting for a process: a failure, never a measure

#: Appends "start <tag>" to the log, waits for the gate file, appends "end <tag>".
GATED = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "gated-"},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "destination"}, {"name": "tag"}, {"name": "log"}, {"name": "gate"}]},
        "synchronization": {"mutexes": [{"name": "test-{{workflow.parameters.destination}}"}]},
        "templates": [
            {
                "name": "main",
                "script": {
                    "image": "python",
                    "command": ["python"],
                    "source": (
                        "import os, time\n"
                        "def note(word):\n"
                        "    with open('{{workflow.parameters.log}}', 'a') as log:\n"
                        "        log.write(word + ' {{workflow.parameters.tag}}\\n')\n"
                        "note('start')\n"
                        "while not os.path.exists('{{workflow.parameters.gate}}'):\n"
                        "    time.sleep(0.02)\n"
                        "note('end')\n"
                    ),
                },
            }
        ],
    },
}


@pytest.fixture(autouse=True)
def _private_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv(synchronization.LOCK_DIR_VARIABLE, str(tmp_path / "locks"))


@pytest.fixture
def manifest(tmp_path) -> Path:
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(GATED))
    return path


class Run:
    """One ``kaleidoscope run-workflow`` of the gated manifest in its own process."""

    def __init__(self, manifest: Path, tmp_path: Path, tag: str, destination: str, gate_open: bool = False):
        self.tag = tag
        self.gate = tmp_path / f"gate-{tag}"
        self.stderr = tmp_path / f"stderr-{tag}"
        if gate_open:
            self.gate.touch()
        parameters = {"destination": destination, "tag": tag, "log": tmp_path / "log", "gate": self.gate}
        # With progress on stderr: the waiting message goes there.
        argv = [sys.executable, "-m", "kaleidoscope.workflows.cli", "run-workflow", str(manifest)]
        for name, value in parameters.items():
            argv += ["-p", f"{name}={value}"]
        with self.stderr.open("w") as stderr:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ), start_new_session=True
            )

    def open_gate(self) -> None:
        self.gate.touch()

    def wait(self) -> int:
        return self.process.wait(timeout=PATIENCE)

    def said(self) -> str:
        return self.stderr.read_text()


def log_lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "log"
    return path.read_text().splitlines() if path.exists() else []


def until(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_two_workflows_holding_one_mutex_run_one_after_the_other(manifest, tmp_path):
    first = Run(manifest, tmp_path, "A", "s3://bucket/out")
    until(lambda: "start A" in log_lines(tmp_path), "the first workflow to start")
    second = Run(manifest, tmp_path, "B", "s3://bucket/out", gate_open=True)
    # The second is Pending on the lock the first holds, as Argo shows it, and runs nothing.
    until(lambda: "Waiting for" in second.said(), "the second workflow to wait for the lock")
    assert "Pending: Waiting for default/Mutex/test-s3://bucket/out lock. Lock status: 0/1" in second.said()
    assert "held by workflow gated-" in second.said()
    assert log_lines(tmp_path) == ["start A"]
    first.open_gate()
    assert first.wait() == 0, first.said()
    assert second.wait() == 0, second.said()
    assert log_lines(tmp_path) == ["start A", "end A", "start B", "end B"]
    assert second.said().count("Waiting for") == 1  # said once
    assert list((tmp_path / "locks").iterdir()) == []  # each run removed its lock file


def test_different_mutex_names_do_not_wait_for_each_other(manifest, tmp_path):
    first = Run(manifest, tmp_path, "A", "s3://bucket/one")
    until(lambda: "start A" in log_lines(tmp_path), "the first workflow to start")
    other = Run(manifest, tmp_path, "C", "s3://bucket/two", gate_open=True)
    assert other.wait() == 0, other.said()  # while the first still holds its own mutex
    first.open_gate()
    assert first.wait() == 0, first.said()
    assert log_lines(tmp_path) == ["start A", "start C", "end C", "end A"]


def test_a_killed_holder_frees_the_lock_at_once(manifest, tmp_path):
    first = Run(manifest, tmp_path, "A", "/data/out")
    until(lambda: "start A" in log_lines(tmp_path), "the first workflow to start")
    second = Run(manifest, tmp_path, "B", "/data/out", gate_open=True)
    until(lambda: "Waiting for" in second.said(), "the second workflow to wait for the lock")
    first.process.send_signal(signal.SIGKILL)  # the executor only: its node dies with it
    assert first.wait() == -signal.SIGKILL
    assert second.wait() == 0, second.said()
    assert log_lines(tmp_path)[:3] == ["start A", "start B", "end B"]
    first.open_gate()


# -- in this process, through the API -----------------------------------------------------------


def gated(tmp_path: Path, tag: str, **spec) -> dict:
    manifest = yaml.safe_load(yaml.safe_dump(GATED))
    manifest["spec"].update(spec)
    (tmp_path / f"gate-{tag}").touch()
    return manifest


def parameters(tmp_path: Path, tag: str, destination: str = "/data/out") -> dict:
    return {"destination": destination, "tag": tag, "log": tmp_path / "log", "gate": tmp_path / f"gate-{tag}"}


def test_a_workflow_waits_pending_while_another_process_holds_its_lock(tmp_path):
    name = "default/Mutex/test-/data/out"
    folder = synchronization.lock_folder()
    holder = os.open(synchronization.lock_file(folder, name), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another run's flock (a separate open file counts as one)
    os.write(holder, b"default/Mutex/test-/data/out\nworkflow elsewhere, process 1\n")
    stream, events, results = io.StringIO(), [], []
    thread = threading.Thread(
        target=lambda: results.append(
            execute(gated(tmp_path, "W"), parameters(tmp_path, "W"), progress_stream=stream, on_event=events.append)
        )
    )
    thread.start()
    until(lambda: "Waiting for" in stream.getvalue(), "the workflow to wait")
    assert (
        stream.getvalue()
        .splitlines()[0]
        .endswith(f": Pending: Waiting for {name} lock. Lock status: 0/1 (held by workflow elsewhere, process 1)")
    )
    assert events == [] and log_lines(tmp_path) == []  # Pending: no node yet
    os.close(holder)  # the holder ends
    thread.join(timeout=PATIENCE)
    [result] = results
    assert result.phase == "Succeeded", result.message
    assert log_lines(tmp_path) == ["start W", "end W"]
    assert stream.getvalue().count("Waiting for") == 1


def test_lock_names_follow_argo(tmp_path):
    values = {"workflow.parameters.destination": "s3://b/x", "workflow.name": "w-1"}
    spec = {
        "mutexes": [
            {"name": "kaleidoscope-{{workflow.parameters.destination}}"},
            {"name": "other", "namespace": "shared", "database": True},
            {"name": "kaleidoscope-{{workflow.parameters.destination}}"},  # the same lock once
        ]
    }
    assert synchronization.lock_names(spec, values, "argo") == [
        "argo/Mutex/kaleidoscope-s3://b/x",
        "shared/Database/other",
    ]
    assert synchronization.lock_names(None, values, "argo") == []


def test_a_mutex_whose_name_is_empty_fails_the_workflow_before_any_node(tmp_path):
    manifest = gated(tmp_path, "E", synchronization={"mutexes": [{"name": "{{workflow.parameters.destination}}"}]})
    result = execute(manifest, parameters(tmp_path, "E", destination=""), show_progress=False)
    assert result.phase == "Failed" and result.nodes == []
    assert result.message.startswith("Failed to acquire the synchronization lock")
    assert log_lines(tmp_path) == []


def test_the_workflow_level_mutex_is_supported_and_checked_at_load():
    assert fields.TABLES["spec"]["synchronization"][0] == "supported"
    assert fields.TABLES["template"]["synchronization"][0] == "supported"
    manifest = yaml.safe_load(yaml.safe_dump(GATED))
    given = {"destination": "d", "tag": "t", "log": "l", "gate": "g"}
    load(manifest, given)
    manifest["spec"]["synchronization"] = {
        "mutexes": [{"name": "m-{{workflow.parameters.destinaton}}"}, {"namespace": 3, "database": "yes"}]
    }
    with pytest.raises(InvalidInput) as caught:
        load(manifest, given)
    problems = caught.value.problems
    assert (
        "manifest: spec.synchronization.mutexes[0].name: {{workflow.parameters.destinaton}} does not resolve: "
        "no workflow parameter 'destinaton' in spec.arguments.parameters (declared: destination, gate, log, tag)"
        in problems
    )
    assert "manifest: spec.synchronization.mutexes[1].name: required: the mutex's name" in problems
    assert "manifest: spec.synchronization.mutexes[1].namespace: must be text" in problems
    assert "manifest: spec.synchronization.mutexes[1].database: bad value 'yes': must be true or false" in problems
    manifest["spec"]["synchronization"] = {"mutexes": [{"name": "m-{{workflow.outputs.parameters.x}}"}]}
    with pytest.raises(InvalidInput, match=r"\{\{workflow.outputs.parameters.x\}\} does not resolve"):
        load(manifest, given)  # locks are taken before any output exists


# -- required workflow parameters ---------------------------------------------------------------


def test_missing_required_parameters_are_refused_by_the_api_naming_them(tmp_path):
    manifest = yaml.safe_load(yaml.safe_dump(GATED))
    with pytest.raises(InvalidInput) as caught:
        execute(manifest, {"tag": "t", "log": str(tmp_path / "log")}, show_progress=False)
    assert caught.value.exit_code == 2
    assert caught.value.problems == [
        "manifest: spec.arguments.parameters[0].value: workflow parameter 'destination' needs a value "
        "(in the manifest or with -p destination=...)",
        "manifest: spec.arguments.parameters[3].value: workflow parameter 'gate' needs a value "
        "(in the manifest or with -p gate=...)",
    ]
    assert log_lines(tmp_path) == []


def test_run_workflow_of_the_committed_workflow_without_locations_exits_2_naming_them(capsys):
    assert main(["run-workflow", str(argo_golden.FILES["workflow"]), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2, lines
    assert "workflow parameter 'source' needs a value (in the manifest or with -p source=...)" in lines[0]
    assert "workflow parameter 'destination' needs a value (in the manifest or with -p destination=...)" in lines[1]


# -- template-level mutexes ------------------------------------------------------------------------

#: A script that appends "start <tag>" to the log, waits for its gate file, appends "end <tag>".
_GATED_SOURCE = (
    "import os, time\n"
    "def note(word):\n"
    "    with open('{{workflow.parameters.log}}', 'a') as log:\n"
    "        log.write(word + ' {{inputs.parameters.tag}}\\n')\n"
    "note('start')\n"
    "while not os.path.exists('{{workflow.parameters.log}}-gate-{{inputs.parameters.tag}}'):\n"
    "    time.sleep(0.02)\n"
    "note('end')\n"
)


def tasks_workflow(tasks: list[dict], locked: dict | None = None, **spec) -> dict:
    """A DAG ``main`` of ``tasks``, each calling ``locked`` (a gated script taking ``tag`` and
    ``destination``, with a template-level mutex on the destination), ``free`` or ``outer``."""
    locked = locked or {"mutexes": [{"name": "t-{{inputs.parameters.destination}}"}]}
    gated_script = {"image": "python", "command": ["python"], "source": _GATED_SOURCE}
    inputs = {"parameters": [{"name": "tag"}, {"name": "destination"}]}
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        {"name": "locked", "inputs": inputs, "synchronization": locked, "script": gated_script},
        {"name": "free", "inputs": inputs, "script": gated_script},
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "tasks-"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "log"}, {"name": "destination", "value": "/data/out"}]},
            "templates": templates,
            **spec,
        },
    }


def call(name: str, template: str, tag: str, destination: str = "/data/out", **task) -> dict:
    arguments = [{"name": "tag", "value": tag}, {"name": "destination", "value": destination}]
    return {"name": name, "template": template, "arguments": {"parameters": arguments}, **task}


def open_gate(tmp_path: Path, tag: str) -> None:
    Path(f"{tmp_path / 'log'}-gate-{tag}").touch()


def run_in_thread(manifest: dict, tmp_path: Path, stream: io.StringIO) -> list:
    results: list = []
    thread = threading.Thread(
        target=lambda: results.append(execute(manifest, {"log": str(tmp_path / "log")}, progress_stream=stream)),
        daemon=True,
    )
    thread.start()
    results.append(thread)
    return results


def finished(results: list):
    thread = results[0]
    thread.join(timeout=PATIENCE)
    assert not thread.is_alive(), "the workflow did not end"
    return results[1]


def test_two_tasks_with_one_template_level_mutex_take_turns_others_do_not_wait(tmp_path):
    manifest = tasks_workflow(
        [call("a", "locked", "A"), call("b", "locked", "B"), call("c", "locked", "C", destination="/data/other")]
    )
    stream = io.StringIO()
    results = run_in_thread(manifest, tmp_path, stream)
    until(lambda: len(log_lines(tmp_path)) == 2, "one of a and b, and c, to start")
    until(lambda: "Waiting for" in stream.getvalue(), "the other of a and b to wait")
    first = next(line.split()[1] for line in log_lines(tmp_path) if line in ("start A", "start B"))
    second = "B" if first == "A" else "A"
    assert f"node {second.lower()}: Pending: Waiting for default/Mutex/t-/data/out lock" in stream.getvalue()
    open_gate(tmp_path, "C")
    until(lambda: "end C" in log_lines(tmp_path), "c to end while a or b waits")  # another lock
    assert f"start {second}" not in log_lines(tmp_path)
    open_gate(tmp_path, first)
    open_gate(tmp_path, second)
    result = finished(results)
    assert result.phase == "Succeeded", result.message
    lines = log_lines(tmp_path)
    assert lines.index(f"end {first}") < lines.index(f"start {second}")
    assert list((tmp_path / "locks").iterdir()) == []  # every lock file removed as it was released


def test_a_template_level_mutex_waits_for_another_process_and_a_stopped_run_stops_waiting(tmp_path):
    name = "default/Mutex/t-/data/out"
    holder = os.open(synchronization.lock_file(synchronization.lock_folder(), name), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    os.write(holder, f"{name}\nworkflow elsewhere, process 1\n".encode())
    try:
        open_gate(tmp_path, "F")
        manifest = tasks_workflow([call("a", "locked", "A"), call("f", "free", "F")], activeDeadlineSeconds=600)
        stream = io.StringIO()
        results = run_in_thread(manifest, tmp_path, stream)
        until(lambda: "end F" in log_lines(tmp_path), "the task without a lock to run")
        until(lambda: "Waiting for" in stream.getvalue(), "the locked task to wait")
        assert "(held by workflow elsewhere, process 1)" in stream.getvalue()
        assert "start A" not in log_lines(tmp_path)
    finally:
        os.close(holder)  # the other holder ends
    open_gate(tmp_path, "A")
    result = finished(results)
    assert result.phase == "Succeeded", result.message
    assert log_lines(tmp_path) == ["start F", "end F", "start A", "end A"]


def test_a_lock_the_workflow_or_an_enclosing_node_holds_fails_the_node_as_argo_would_wait_forever(tmp_path):
    # Argo's holder of a workflow-level lock is the workflow, of a template-level one the node: one
    # name at both levels, or on a template and one it calls, would wait for itself.
    same = {"mutexes": [{"name": "t-{{workflow.parameters.destination}}"}]}
    manifest = tasks_workflow([call("a", "locked", "A")], synchronization=same)
    result = execute(manifest, {"log": str(tmp_path / "log")}, show_progress=False)
    assert result.phase == "Error"
    node = result.node("a")
    assert node.phase == "Error" and node.message.startswith(
        "Waiting for default/Mutex/t-/data/out lock, which the workflow itself holds: Argo would wait here forever"
    )
    assert log_lines(tmp_path) == []
    nested = tasks_workflow([call("a", "locked", "A")])
    nested["spec"]["templates"][0]["synchronization"] = same  # main holds it, then calls locked
    result = execute(nested, {"log": str(tmp_path / "log")}, show_progress=False)
    assert result.node("a").phase == "Error"
    assert f"which node {result.name} holds" in result.node("a").message


def test_a_template_level_mutex_is_checked_at_load():
    misspelt = {"name": "t-{{inputs.parameters.destinaton}}"}
    with pytest.raises(InvalidInput) as caught:
        load(tasks_workflow([call("a", "locked", "A")], locked={"mutexes": [misspelt, {"namespace": 3}]}), {"log": "l"})
    assert caught.value.problems == [
        "manifest: spec.templates[1].synchronization.mutexes[0].name: {{inputs.parameters.destinaton}} does not "
        "resolve: this template has no input parameter 'destinaton' (inputs: destination, tag)",
        "manifest: spec.templates[1].synchronization.mutexes[1].name: required: the mutex's name",
        "manifest: spec.templates[1].synchronization.mutexes[1].namespace: must be text",
    ]
    with pytest.raises(InvalidInput) as caught:
        load(tasks_workflow([call("a", "locked", "A")], locked={"mutexes": [misspelt]}), {"log": "l"})
    [problem] = caught.value.problems
    assert problem.startswith(
        "manifest: spec.templates[1].synchronization.mutexes[0].name: {{inputs.parameters.destinaton}} does not resolve"
    )
