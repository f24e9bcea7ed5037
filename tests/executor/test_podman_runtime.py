"""The podman runtime: each node in its template's image, with its pod's security, volumes, env,
limits and stop handling, checked from inside real containers."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows import local
from kaleidoscope.workflows.executor import execute, podman
from kaleidoscope.workflows.executor.reaper import SWEEP_PAUSE
from kaleidoscope.workflows.rules.quantities import parse_cpu
from tests import container
from tests.executor.manifests import python_pod, workflow
from tests.prerequisites import missing

#: The smallest image with python3: engineer-made with debootstrap (images/build.sh makes it too).
BASE_IMAGE = "localhost/kaleidoscope-base:bookworm"
POD_SECURITY = {"runAsUser": 65532, "runAsGroup": 65532, "runAsNonRoot": True, "fsGroup": 65532}
LOCKED_DOWN = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
#: Longest a test waits for something that should happen at once (no assertion on the time itself).
PATIENCE = 60.0


@pytest.fixture(autouse=True)
def _podman(monkeypatch):
    absent = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    if absent:
        missing(f"{' and '.join(absent)} not installed: the podman runtime's tests run real containers")
    monkeypatch.setenv("CONTAINERS_CONF", os.environ.get("CONTAINERS_CONF", str(container.CONTAINERS_CONF)))


@pytest.fixture(scope="session")
def image() -> str:
    """An image with python3: the Debian base if it is here, else the step image (which builds it)."""
    if shutil.which("podman") and container.podman("image", "exists", BASE_IMAGE).returncode == 0:
        return BASE_IMAGE
    return container.step_image()


def run(manifest: dict, **options):
    return execute(manifest, runtime="podman", show_progress=False, backoff_scale=0.01, **options)


def pod(manifest: dict, image: str, code: str, **options):
    """Run one python3 pod; its node."""
    result = run(workflow([python_pod("main", image, code, **manifest)]), **options)
    return result, result.node(result.root.display_name)


def containers_of_runs() -> list[str]:
    listed = container.podman("ps", "--all", "--quiet", f"--filter=label={podman.RUN_LABEL}")
    return listed.stdout.split()


def test_a_pod_runs_as_its_security_context_says(image):
    code = """
import os, socket
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
try:
    open("/root-file", "w")
    root = "writable"
except OSError as error:
    root = error.strerror
facts = {"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()), "root": root,
         "caps": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
         "hostname": socket.gethostname(), "cwd": os.getcwd()}
open("/tmp/facts.json", "w").write(json.dumps(facts))
"""
    manifest = {
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "mounts": {"tmp": "/tmp"},
        "securityContext": POD_SECURITY,
        "container_security": LOCKED_DOWN,
        "workingDir": "/tmp",
        "outputs": {"facts": {"path": "/tmp/facts.json"}},
    }
    result, node = pod(manifest, image, code)
    assert result.phase == "Succeeded", node.stderr_tail
    facts = json.loads(node.outputs["facts"])
    assert (facts["uid"], facts["gid"]) == (65532, 65532)
    assert 65532 in facts["groups"]
    assert facts["root"] == "Read-only file system"
    assert int(facts["caps"], 16) == 0
    assert facts["no_new_privs"] == "1"
    assert facts["cwd"] == "/tmp"
    assert facts["hostname"].startswith(result.name)  # the pod's name, as Kubernetes names the host


def test_without_an_emptydir_a_read_only_root_has_no_writable_tmp(image):
    code = "open('/tmp/x', 'w')"
    result, node = pod({"container_security": LOCKED_DOWN}, image, code)
    assert result.phase == "Failed"
    assert "Read-only file system" in node.stderr_tail[-1]


def test_an_emptydir_size_limit_refuses_the_write_past_it(image):
    code = """
open("/scratch/small", "wb").write(b"x" * 512 * 1024)
try:
    with open("/scratch/big", "wb") as file:
        file.write(b"x" * 2 * 1024 * 1024)
    print("written")
except OSError as error:
    print(error.strerror)
"""
    manifest = {"volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}], "mounts": {"scratch": "/scratch"}}
    result, node = pod(manifest, image, code)
    assert result.phase == "Succeeded", node.stderr_tail
    assert result.warnings == []
    assert node.stdout_tail == ["No space left on device"]


def test_env_secret_refs_and_kubernetes_expansion_reach_the_container(image, tmp_path):
    code = "print(os.environ['TOKEN'], os.environ['URL'], os.environ.get('ABSENT', '-'))"
    manifest = {
        "env": [
            {"name": "HOST", "value": "127.0.0.1"},
            {"name": "URL", "value": "http://$(HOST):8333"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "token"}}},
            {"name": "ABSENT", "valueFrom": {"secretKeyRef": {"name": "s3", "key": "nope", "optional": True}}},
        ]
    }
    result, node = pod(manifest, image, code, secrets={"s3": {"token": "s3cr3t"}})
    assert result.phase == "Succeeded", node.stderr_tail
    assert node.stdout_tail == ["s3cr3t http://127.0.0.1:8333 -"]


def test_outputs_come_from_volumes_the_root_file_system_stdout_and_the_progress_file(image):
    code = """
open("/tmp/a.txt", "w").write("from the volume\\n")
open("/b.txt", "w").write("from the root file system")
open(os.environ["ARGO_PROGRESS_FILE"], "w").write("3/4")
print("the result")
"""
    manifest = {
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "mounts": {"tmp": "/tmp"},
        "securityContext": {"runAsUser": 0},  # root may write /b.txt on a writable root
        "outputs": {"a": {"path": "/tmp/a.txt"}, "b": {"path": "/b.txt"}, "c": {"path": "/c.txt", "default": "none"}},
    }
    step = {"name": "step", "template": "main"}
    templates = [
        {
            "name": "entry",
            "steps": [[step]],
            "outputs": {
                "parameters": [{"name": "result", "valueFrom": {"parameter": "{{steps.step.outputs.result}}"}}]
            },
        },
        python_pod("main", image, code, **manifest),
    ]
    result = run(workflow(templates, entrypoint="entry"))
    node = result.node("step")
    assert result.phase == "Succeeded", node.stderr_tail
    assert node.outputs == {"a": "from the volume", "b": "from the root file system", "c": "none"}
    assert result.root.outputs["result"] == "the result"
    assert node.progress == (3, 4)
    assert containers_of_runs() == []  # the container kept for /b.txt is gone too


def test_a_pod_reaches_a_server_on_the_hosts_loopback(image):
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from the host")

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = f"import urllib.request\nprint(urllib.request.urlopen('http://127.0.0.1:{server.server_port}/').read().decode())"
        result, node = pod({}, image, code)
    finally:
        server.shutdown()
    assert result.phase == "Succeeded", node.stderr_tail
    assert node.stdout_tail == ["hello from the host"]


def test_a_script_runs_its_source_read_only_with_its_command(image):
    template = {
        "name": "main",
        "script": {
            "image": image,
            "command": ["python3"],
            "source": "import sys\nprint(sys.argv[0])\nopen(sys.argv[0], 'a')\n",
        },
    }
    result = run(workflow([template]))
    node = result.root
    assert node.phase == "Failed"
    assert node.stdout_tail == ["/argo/staging/script"]
    assert "Read-only file system" in node.stderr_tail[-1]


def test_without_a_command_the_images_entrypoint_runs_and_args_replace_its_cmd(step_image, tmp_path):
    # The step image: ENTRYPOINT ["kaleidoscope"], CMD ["--help"].
    templates = [
        {"name": "main", "steps": [[{"name": "default", "template": "bare"}, {"name": "args", "template": "args"}]]},
        {"name": "bare", "container": {"image": step_image}},
        {"name": "args", "container": {"image": step_image, "args": ["run-workflow", "--help"]}},
    ]
    result = run(workflow(templates), workdir=tmp_path)
    assert result.phase == "Succeeded", [node.stderr_tail for node in result.nodes]
    first_lines = {
        name: Path(result.node(name).folder, "stdout").read_text().splitlines()[0] for name in ("default", "args")
    }
    assert first_lines["default"].startswith("usage: kaleidoscope [-h]")
    assert first_lines["args"].startswith("usage: kaleidoscope run-workflow [-h]")


def test_the_exit_code_and_the_failure_are_the_containers(image):
    result, node = pod({}, image, "sys.exit(3)")
    assert (result.phase, node.phase, node.exit_code, node.message) == ("Failed", "Failed", 3, "Error (exit code 3)")


def test_run_as_non_root_refuses_a_root_user_before_the_container_starts(image):
    _, node = pod({"securityContext": {"runAsNonRoot": True, "runAsUser": 0}}, image, "print('ran')")
    assert node.phase == "Error"
    assert node.message == "container's runAsUser breaks non-root policy (container: main)"
    assert node.stdout_tail == []


def test_a_memory_limit_is_enforced_or_said_not_to_be(image):
    code = "block = bytearray(256 * 1024 * 1024); print('allocated')"
    result, node = pod({"resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}, image, code)
    if result.warnings:  # this machine's podman has no memory cgroup: said, not silently skipped
        assert any("resources.limits.memory not applied" in note for note in result.warnings)
        return
    assert (node.phase, node.exit_code) == ("Failed", 137)  # the kernel's OOM killer, as in a pod


def test_cpu_quantities_are_read_as_kubernetes_reads_them():
    assert [float(parse_cpu(text)) for text in ("2", "0.5", "500m", "1500m")] == [2.0, 0.5, 0.5, 1.5]


def test_a_deadline_stops_the_container(image):
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('started', flush=True)\ntime.sleep(600)"
    _, node = pod({"activeDeadlineSeconds": 1}, image, code, grace_seconds=1)
    assert node.phase == "Failed"
    assert node.message == "Pod was active on the node longer than the specified deadline"
    assert node.exit_code == 137  # it ignored SIGTERM: SIGKILL after the grace period
    assert containers_of_runs() == []


def test_a_deadline_reaches_the_command_as_sigterm_first(image):
    # The command is not PID 1 (an init is, as Argo's emissary is in a pod), so SIGTERM reaches it.
    code = """
import signal, time
signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(0)))
time.sleep(600)
"""
    _, node = pod({"activeDeadlineSeconds": 1}, image, code, grace_seconds=30)
    assert node.phase == "Failed"
    assert node.message == "Pod was active on the node longer than the specified deadline"
    assert node.stdout_tail == ["got SIGTERM"]


def test_a_template_without_an_image_is_refused_before_anything_runs(image):
    manifest = workflow([{"name": "main", "container": {"command": ["true"]}}])
    with pytest.raises(InvalidInput) as caught:
        run(manifest)
    assert "spec.templates[0].container.image: required by the podman runtime" in str(caught.value)


def test_an_image_not_on_this_machine_is_refused_before_anything_runs():
    manifest = workflow([python_pod("main", "localhost/no-such-image:1", "print(1)")])
    with pytest.raises(InvalidInput) as caught:
        run(manifest)
    assert (
        "spec.templates[0].container.image: image 'localhost/no-such-image:1' is not on this machine: "
        "the podman runtime never pulls" in str(caught.value)
    )


def test_without_podman_the_command_line_says_so(tmp_path):
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(yaml.safe_dump(workflow([python_pod("main", "x", "print(1)")])))
    environment = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", "run-workflow", "--runtime", "podman", str(manifest)],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--runtime podman: podman is not installed (not found on PATH)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_or_killing_the_executor_leaves_no_container(image, tmp_path, how):
    code = "import time\nprint('started', flush=True)\ntime.sleep(600)"
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(yaml.safe_dump(workflow([python_pod("main", image, code)])))
    before = set(containers_of_runs())
    executor = subprocess.Popen(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", "run-workflow", "--runtime", "podman", str(manifest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = _wait(lambda: set(containers_of_runs()) - before)
        assert started, "the node's container never started"
        executor.send_signal(how)
        executor.wait(timeout=PATIENCE)
    finally:
        if executor.poll() is None:
            executor.kill()
    if how == signal.SIGTERM:
        assert executor.returncode == 128 + signal.SIGTERM
    # A killed executor runs no cleanup: its watchdog removes the container after it.
    assert _wait(lambda: not (set(containers_of_runs()) & started), pause=SWEEP_PAUSE), "a container outlived the run"


def _wait(condition, pause: float = 0.2):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(pause)
    return condition()


def _file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every output image (the manifest and summary name the run, so they differ)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in (".png", ".jpg")
    }


def test_kaleidoscope_run_in_the_step_image_writes_what_the_process_runtime_writes(
    step_image, spec_document, tmp_path, monkeypatch
):
    outputs = {}
    for runtime in ("process", "podman"):
        destination = tmp_path / f"out-{runtime}"
        destination.mkdir()
        os.chown(destination, 65532, 65532)  # the pods' user writes it, as a volume's owner would allow
        spec = spec_module.parse({**spec_document, "destination": str(destination)})
        result = local.run_locally(spec, workers=2, show_progress=False, runtime=runtime, image=step_image)
        outputs[runtime] = (result["inputs"], result["outputs"], result["failed"], _file_digests(destination))
    assert outputs["podman"][3], "no image written"
    assert outputs["podman"] == outputs["process"]


def test_kaleidoscope_run_refuses_a_destination_the_pods_user_cannot_write(spec_document, tmp_path):
    destination = tmp_path / "root-only"
    destination.mkdir(mode=0o755)
    spec = spec_module.parse({**spec_document, "destination": str(destination)})
    with pytest.raises(InvalidInput) as caught:
        local.run_locally(spec, workers=1, show_progress=False, runtime="podman", image="localhost/any:1")
    assert str(caught.value).startswith(f"destination {destination}: not writable by the pods' user 65532:65532")
