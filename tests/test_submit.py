"""``kaleidoscope submit`` against an Argo API stand-in on loopback (http.server in a thread)."""

from __future__ import annotations

import copy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kaleidoscope.workflows import builder
from kaleidoscope.workflows.argo.options import BuildOptions
from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.submit import ArgoServer
from tools import argo_golden

NAME = "kaleidoscope-x7k2p"
# Hera 7.1's WorkflowsService serialises with pydantic's deprecated .json(); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The `json` method is deprecated:DeprecationWarning")


class FakeArgo:
    """Records each request and answers as Argo's API does (POST /api/v1/workflows/{namespace})."""

    def __init__(self, status: int = 200, answer: dict | None = None):
        self.requests: list[dict] = []
        self.status, self.answer = status, answer
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.answer is not None:
                    reply = fake.answer
                else:  # Argo fills in the name from generateName, the namespace and a uid
                    reply = copy.deepcopy(body["workflow"])
                    reply["metadata"].update(name=NAME, namespace=self.path.rsplit("/", 1)[1], uid="0f3c")
                data = json.dumps(reply).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(argo_golden.EXAMPLE_SPEC)
    return path


@pytest.fixture(autouse=True)
def no_argo_environment(monkeypatch):
    for name in (
        "ARGO_SERVER",
        "ARGO_TOKEN",
        "ARGO_NAMESPACE",
        "ARGO_SECURE",
        "ARGO_BASE_HREF",
        "ARGO_INSECURE_SKIP_VERIFY",
    ):
        monkeypatch.delenv(name, raising=False)


def test_posts_the_rendered_workflow_and_prints_its_name_and_link(spec_file, capsys):
    with FakeArgo() as argo:
        code = main(
            [
                "submit",
                str(spec_file),
                "--host",
                argo.url,
                "--namespace",
                "ml",
                "--token",
                "s3cret",
                "--source",
                "s3://in/photos",
                "--parallelism",
                "5",
            ]
        )
    assert code == 0
    assert capsys.readouterr().out == f"{NAME}\n{argo.url}/workflows/ml/{NAME}\n"
    [request] = argo.requests
    assert request["path"] == "/api/v1/workflows/ml"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Content-Type"] == "application/json"
    options = BuildOptions(namespace="ml", source="s3://in/photos", parallelism=5)
    made = builder.workflow(spec_file, options, carry_locations=True)
    assert request["body"] == {"workflow": builder.manifest(made)}
    assert request["body"]["workflow"]["kind"] == "Workflow"
    parameters = {p["name"]: p.get("value") for p in request["body"]["workflow"]["spec"]["arguments"]["parameters"]}
    assert parameters["spec"] == argo_golden.EXAMPLE_SPEC
    # A run submitted now names its locations (Argo refuses one that does not): the flag's, else the spec's.
    assert (parameters["source"], parameters["destination"]) == ("s3://in/photos", "s3://my-bucket/augmented")


def test_server_token_and_namespace_come_from_argo_cli_variables(spec_file, capsys, monkeypatch):
    with FakeArgo() as argo:
        monkeypatch.setenv("ARGO_SERVER", argo.url.removeprefix("http://"))  # host:port, as argo CLI takes it
        monkeypatch.setenv("ARGO_SECURE", "false")
        monkeypatch.setenv("ARGO_TOKEN", "Bearer from-env")
        monkeypatch.setenv("ARGO_NAMESPACE", "team")
        assert main(["submit", str(spec_file)]) == 0
    [request] = argo.requests
    assert request["path"] == "/api/v1/workflows/team"
    assert request["headers"]["Authorization"] == "Bearer from-env"
    assert request["body"]["workflow"]["metadata"]["namespace"] == "team"
    assert capsys.readouterr().out.splitlines()[1] == f"{argo.url}/workflows/team/{NAME}"


def test_base_href_and_default_namespace(spec_file, capsys, monkeypatch):
    with FakeArgo() as argo:
        monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
        assert main(["submit", str(spec_file), "--host", argo.url]) == 0
    assert argo.requests[0]["path"] == "/argo/api/v1/workflows/argo"
    assert "Authorization" not in argo.requests[0]["headers"] or not argo.requests[0]["headers"]["Authorization"]
    assert capsys.readouterr().out.splitlines()[1] == f"{argo.url}/argo/workflows/argo/{NAME}"


def test_an_unreachable_server_gives_one_line_naming_host_and_cause(spec_file, capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = main(["submit", str(spec_file), "--host", f"http://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err == f"kaleidoscope: cannot reach the Argo server at http://127.0.0.1:{port}: Connection refused\n"


def test_a_server_that_never_answers_times_out(spec_file, capsys):
    with socket.socket() as silent:  # accepts connections, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        code = main(["submit", str(spec_file), "--host", f"http://127.0.0.1:{port}", "--timeout", "0.5"])
    assert code == 1
    assert (
        capsys.readouterr().err
        == f"kaleidoscope: the Argo server at http://127.0.0.1:{port} did not answer within 0.5 s\n"
    )


def test_a_refusal_by_the_server_is_one_line_with_its_message(spec_file, capsys):
    answer = {"code": 7, "message": 'workflows.argoproj.io is forbidden: User "system:anonymous" cannot create'}
    with FakeArgo(status=403, answer=answer) as argo:
        code = main(["submit", str(spec_file), "--host", argo.url])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        f"kaleidoscope: the Argo server at {argo.url} refused the workflow: Server returned status code 403"
    )
    assert "is forbidden" in err


def test_an_answer_that_is_not_a_workflow_is_an_error(spec_file, capsys):
    with FakeArgo(status=500, answer={"error": "no message field"}) as argo:
        assert main(["submit", str(spec_file), "--host", argo.url]) == 1
    assert f"the Argo server at {argo.url} gave an unexpected answer" in capsys.readouterr().err


def test_no_server_given_is_invalid_input(spec_file, capsys):
    assert main(["submit", str(spec_file)]) == 2
    assert (
        capsys.readouterr().err
        == "kaleidoscope: --host: no Argo server given: pass --host or set ARGO_SERVER (host:port or URL)\n"
    )


def test_an_invalid_spec_is_refused_before_anything_is_sent(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(argo_golden.EXAMPLE_SPEC.replace("quality: 90", "quality: 900"))
    with FakeArgo() as argo:
        assert main(["submit", str(spec), "--host", argo.url]) == 2
    assert argo.requests == []
    assert "output.quality: bad value 900" in capsys.readouterr().err


@pytest.mark.parametrize(
    "host, environ, expected",
    [
        ("argo.example.com:2746", {}, "https://argo.example.com:2746/"),
        ("argo.example.com:2746", {"ARGO_SECURE": "false"}, "http://argo.example.com:2746/"),
        ("https://argo.example.com/", {"ARGO_BASE_HREF": "/argo"}, "https://argo.example.com/argo/"),
        ("https://argo.example.com/base", {"ARGO_BASE_HREF": "/other"}, "https://argo.example.com/base/"),
    ],
)
def test_server_url_forms(host, environ, expected):
    assert ArgoServer.from_env(host=host, environ=environ).host == expected


def test_tls_verification_can_be_skipped_by_flag_or_variable():
    assert ArgoServer.from_env(host="h:1", environ={}).verify_tls is True
    assert ArgoServer.from_env(host="h:1", environ={"ARGO_INSECURE_SKIP_VERIFY": "true"}).verify_tls is False
    assert ArgoServer.from_env(host="h:1", insecure_skip_verify=True, environ={}).verify_tls is False
