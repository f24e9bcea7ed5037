"""What the local executor refuses before anything runs, each problem naming its place."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import execute, fields, load

HELLO = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "hello-"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [{"name": "a", "template": "echo"}]}},
            {"name": "echo", "container": {"image": "busybox", "command": ["echo", "hi"]}},
        ],
    },
}


def _with(path: str, value) -> dict:
    """HELLO with ``value`` set at a dotted path (list indexes as numbers)."""
    manifest = copy.deepcopy(HELLO)
    keys = path.split(".")
    target = manifest
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target.setdefault(key, {})
    target[keys[-1]] = value
    return manifest


def _problems(manifest) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load(manifest)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_a_valid_manifest_loads_as_a_workflow():
    assert load(yaml.safe_dump(HELLO))["spec"]["entrypoint"] == "main"


# (where the field goes, its value, the place the problem must name)
REFUSED = [
    ("spec.hooks", {"running": {"template": "main"}}, "spec.hooks.running"),
    ("spec.volumeClaimTemplates", [], "spec.volumeClaimTemplates"),
    ("spec.artifactRepositoryRef", {}, "spec.artifactRepositoryRef"),
    ("spec.podSpecPatch", "{}", "spec.podSpecPatch"),
    ("spec.synchronization", {"semaphores": []}, "spec.synchronization.semaphores"),
    ("spec.synchronization", {"mutex": {"name": "m"}}, "spec.synchronization.mutex"),  # Argo 3's form
    ("spec.templates.1.synchronization", {"semaphores": []}, "spec.templates[1].synchronization.semaphores"),
    (
        "spec.volumes",
        [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}],
        "spec.volumes[0].persistentVolumeClaim",
    ),
    ("spec.volumes", [{"name": "cfg", "configMap": {"name": "c"}}], "spec.volumes[0].configMap"),
    (
        "spec.templates.1.container.volumeMounts",
        [{"name": "x", "mountPath": "/x", "subPath": "a"}],
        "spec.templates[1].container.volumeMounts[0].subPath",
    ),
    ("spec.templates.1.sidecars", [], "spec.templates[1].sidecars"),
    ("spec.templates.1.initContainers", [], "spec.templates[1].initContainers"),
    ("spec.templates.1.daemon", True, "spec.templates[1].daemon"),
    ("spec.templates.1.memoize", {}, "spec.templates[1].memoize"),
    ("spec.templates.1.outputs", {"artifacts": [{"name": "a", "path": "/a"}]}, "spec.templates[1].outputs.artifacts"),
    ("spec.templates.1.inputs", {"artifacts": [{"name": "a", "path": "/a"}]}, "spec.templates[1].inputs.artifacts"),
    ("spec.templates.1.container.envFrom", [], "spec.templates[1].container.envFrom"),
    (
        "spec.templates.1.container.env",
        [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
        "spec.templates[1].container.env[0].valueFrom.configMapKeyRef",
    ),
    (
        "spec.templates.1.outputs",
        {"parameters": [{"name": "p", "valueFrom": {"expression": "1"}}]},
        "spec.templates[1].outputs.parameters[0].valueFrom.expression",
    ),
    (
        "spec.templates.1.retryStrategy",
        {"limit": 1, "expression": "lastRetry.exitCode in ['1']"},
        "spec.templates[1].retryStrategy.expression",
    ),
    (
        "spec.templates.1.retryStrategy",
        {"limit": 1, "expression": "sprig.trim(lastRetry.message) == ''"},
        "spec.templates[1].retryStrategy.expression",
    ),
    ("spec.templates.1.timeout", "1m", "spec.templates[1].timeout"),
    ("spec.templates.0.dag.tasks.0.onExit", "x", "spec.templates[0].dag.tasks[0].onExit"),
    ("spec.templates.0.dag.tasks.0.arguments", {"artifacts": []}, "spec.templates[0].dag.tasks[0].arguments.artifacts"),
    ("spec.templates.1.contianer", {}, "spec.templates[1].contianer"),  # a misspelt field
]


@pytest.mark.parametrize("path, value, place", REFUSED, ids=[case[2] for case in REFUSED])
def test_unsupported_fields_are_refused_naming_the_field(path, value, place):
    problems = _problems(_with(path, value))
    assert any(problem.startswith(f"manifest: {place}:") for problem in problems), problems


@pytest.mark.parametrize(
    "kind, field",
    [
        ("resource", {"action": "create"}),
        ("suspend", {}),
        ("http", {"url": "x"}),
        ("plugin", {}),
        ("data", {}),
        ("containerSet", {}),
    ],
)
def test_unsupported_template_kinds_are_refused(kind, field):
    manifest = _with(f"spec.templates.1.{kind}", field)
    del manifest["spec"]["templates"][1]["container"]
    assert any(f"spec.templates[1].{kind}: not supported" in problem for problem in _problems(manifest))


@pytest.mark.parametrize(
    "field, tag",
    [
        ("spec.templates.1.container.args", ["{{=inputs.parameters.x}}"]),
        ("spec.templates.0.dag.tasks.0.when", "{{=true}}"),
    ],
)
def test_expression_tags_are_refused(field, tag):
    problems = _problems(_with(field, tag))
    assert any("expression tag" in problem for problem in problems), problems


def test_fields_with_no_local_meaning_are_accepted():
    manifest = _with("spec.templates.1.container.resources", {"limits": {"cpu": "1"}})
    manifest["spec"]["templates"][1]["container"]["securityContext"] = {"runAsNonRoot": True}
    manifest["spec"]["templates"][1]["container"]["imagePullPolicy"] = "Always"
    manifest["spec"].update(
        serviceAccountName="sa",
        podGC={"strategy": "OnPodSuccess"},
        ttlStrategy={},
        nodeSelector={"a": "b"},
        tolerations=[],
        securityContext={},
    )
    manifest["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    manifest["spec"]["templates"][1]["container"]["volumeMounts"] = [{"name": "tmp", "mountPath": "/tmp"}]
    manifest["metadata"]["labels"] = {"a": "b"}
    assert load(manifest)["spec"]["serviceAccountName"] == "sa"


def test_the_projects_committed_workflows_load():
    # The manifests `argo submit` takes (workflows/*.yaml) must run locally too.
    committed = sorted((Path(__file__).resolve().parents[2] / "workflows").glob("kaleidoscope-*.yaml"))
    if not committed:
        pytest.fail("no committed workflow manifests in workflows/")
    # A workflowTemplateRef (the CronWorkflow may use one) finds the committed WorkflowTemplate.
    templates = [path for path in committed if path.name == "kaleidoscope-workflowtemplate.yaml"]
    for path in committed:
        # source and destination have no value but the CronWorkflow's: a run names them.
        assert load(path, {"source": "/in", "destination": "/out"}, templates)["kind"] == "Workflow", path


def test_every_field_has_a_status():
    table = fields.documented()
    assert "volumeClaimTemplates" in table["spec"]["refused"]
    assert "resources" in table["container"]["ignored"]
    assert "depends" in table["task"]["supported"] and "depends" not in table["step"]["supported"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("kind: [", "not valid YAML at line"),
        ("just a string", "not a Workflow manifest"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}",
            "not a Workflow manifest: apiVersion 'v1', kind 'Pod'",
        ),
        ("a: 1\n---\nb: 2", "expected one YAML document, found 2"),
    ],
)
def test_not_yaml_or_not_a_workflow(text, message):
    with pytest.raises(InvalidInput, match=message):
        load(text)


def test_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read the manifest"):
        load(tmp_path / "nope.yaml")
    with pytest.raises(InvalidInput, match=r"nope\.yaml: cannot read the manifest: No such file"):
        load(str(tmp_path / "nope.yaml"))


def test_missing_template_and_entrypoint():
    problems = _problems(_with("spec.templates.0.dag.tasks.0.template", "ecoh"))
    assert (
        "manifest: spec.templates[0].dag.tasks[0].template: template 'ecoh' is not defined (templates: echo, main)"
        in problems
    )
    problems = _problems(_with("spec.entrypoint", "mian"))
    assert "manifest: spec.entrypoint: template 'mian' is not defined (templates: echo, main)" in problems


def test_dependency_cycle_names_it():
    tasks = [
        {"name": "a", "template": "echo", "depends": "c"},
        {"name": "b", "template": "echo", "depends": "a"},
        {"name": "c", "template": "echo", "dependencies": ["b"]},
    ]
    problems = _problems(_with("spec.templates.0.dag.tasks", tasks))
    assert (
        "manifest: spec.templates[0].dag.tasks[0].depends: dependency cycle (each waits for the next): a -> c -> b -> a"
        in problems
    ), problems


def test_bad_depends_and_unknown_dependency():
    tasks = [
        {"name": "a", "template": "echo"},
        {"name": "b", "template": "echo", "depends": "a.Finished"},
        {"name": "c", "template": "echo", "dependencies": ["z"]},
        {"name": "d", "template": "echo", "depends": "a", "dependencies": ["a"]},
    ]
    problems = _problems(_with("spec.templates.0.dag.tasks", tasks))
    assert (
        "manifest: spec.templates[0].dag.tasks[1].depends: task result 'Finished' for task 'a' is invalid "
        "(one of Succeeded, Failed, Errored, Skipped, Omitted, Daemoned, AnySucceeded, AllFailed)" in problems
    )
    assert (
        "manifest: spec.templates[0].dag.tasks[2].dependencies[0]: task 'z' is not defined in this DAG "
        "(tasks: a, b, c, d)" in problems
    )
    assert "manifest: spec.templates[0].dag: use depends or dependencies in one DAG, not both" in problems


@pytest.mark.parametrize(
    "path, value, expected",
    [
        (
            "spec.templates.1.container.args",
            ["{{inputs.parameters.msg}}"],
            "spec.templates[1].container.args[0]: {{inputs.parameters.msg}} does not resolve: this template has no "
            "input parameter 'msg'",
        ),
        (
            "spec.templates.1.container.args",
            ["{{workflow.parameters.nope}}"],
            "spec.templates[1].container.args[0]: {{workflow.parameters.nope}} does not resolve: no workflow parameter",
        ),
        (
            "spec.templates.0.dag.tasks.0.arguments",
            {"parameters": [{"name": "m", "value": "{{item}}"}]},
            "spec.templates[0].dag.tasks[0].arguments.parameters[0].value: {{item}} does not resolve: only a task or step",
        ),
        (
            "spec.templates.0.dag.tasks.0.when",
            "{{tasks.b.outputs.result}} == 1",
            "spec.templates[0].dag.tasks[0].when: {{tasks.b.outputs.result}} does not resolve: no task 'b' in this DAG",
        ),
    ],
)
def test_unresolved_variables_are_refused_naming_the_place(path, value, expected):
    problems = _problems(_with(path, value))
    assert any(problem.startswith(f"manifest: {expected}") for problem in problems), problems


def test_output_of_a_task_that_is_a_dependency_resolves():
    tasks = [
        {"name": "a", "template": "gen"},
        {
            "name": "b",
            "template": "echo",
            "depends": "a",
            "arguments": {
                "parameters": [{"name": "m", "value": "{{tasks.a.outputs.parameters.p}} {{tasks.a.outputs.result}}"}]
            },
        },
    ]
    manifest = _with("spec.templates.0.dag.tasks", tasks)
    manifest["spec"]["templates"][1]["inputs"] = {"parameters": [{"name": "m"}]}
    manifest["spec"]["templates"].append(
        {
            "name": "gen",
            "container": {"image": "x", "command": ["true"]},
            "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
        }
    )
    load(manifest)
    tasks[1]["arguments"]["parameters"][0]["value"] = "{{tasks.a.outputs.parameters.q}}"
    assert any("{{tasks.a.outputs.parameters.q}} does not resolve" in problem for problem in _problems(manifest))


def test_missing_input_argument_and_missing_workflow_parameter_value():
    manifest = _with("spec.templates.1.inputs", {"parameters": [{"name": "m"}]})
    manifest["spec"]["arguments"] = {"parameters": [{"name": "p"}]}
    problems = _problems(manifest)
    assert (
        "manifest: spec.templates[0].dag.tasks[0].arguments: template 'echo' needs the input parameter 'm'"
    ) in problems
    assert any(
        problem.startswith("manifest: spec.arguments.parameters[0].value: workflow parameter 'p' needs a value")
        for problem in problems
    )
    # A value given on the command line is enough, if it is in the enum.
    manifest["spec"]["templates"][1]["inputs"]["parameters"][0]["default"] = "d"
    manifest["spec"]["arguments"]["parameters"][0]["enum"] = ["x", "y"]
    load(manifest, {"p": "x"})
    with pytest.raises(InvalidInput, match=r"'z' is not one of its enum values \('x', 'y'\)"):
        load(manifest, {"p": "z"})


def test_container_needs_a_command_locally():
    manifest = _with("spec.templates.1.container", {"image": "docker/whalesay", "args": ["hi"]})
    assert any("spec.templates[1].container.command: required locally" in problem for problem in _problems(manifest))


def test_volume_mount_must_name_an_empty_dir_volume():
    manifest = _with("spec.templates.1.container.volumeMounts", [{"name": "work", "mountPath": "/work"}])
    assert (
        "manifest: spec.templates[1].container.volumeMounts[0].name: no volume named 'work' in the template "
        "or spec.volumes"
    ) in _problems(manifest)


def test_every_problem_is_reported_at_once():
    manifest = _with("spec.templates.1.sidecars", [])
    manifest["spec"]["hooks"] = {"running": {"template": "x"}}
    manifest["spec"]["templates"][1]["container"]["envFrom"] = []
    assert len(_problems(manifest)) == 3


def test_missing_secret_is_refused_before_running_naming_the_variable(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    manifest = _with(
        "spec.templates.1.container",
        {
            "image": "x",
            "command": ["sh", "-c", f"touch {marker}"],
            "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": "secret.key"}}}],
        },
    )
    monkeypatch.delenv("KALEIDOSCOPE_SECRET_S3_CREDS_SECRET_KEY", raising=False)
    with pytest.raises(InvalidInput) as caught:
        execute(manifest, show_progress=False)
    assert caught.value.problems == [
        "spec.templates[1].container.env[0].valueFrom.secretKeyRef: secret 's3-creds' has no key 'secret.key': "
        "give it in the secrets file or as the environment variable KALEIDOSCOPE_SECRET_S3_CREDS_SECRET_KEY"
    ]
    assert not marker.exists()


@pytest.mark.parametrize(
    "kind, wrap",
    [
        ("WorkflowTemplate", lambda spec: {"metadata": {"name": "tpl"}, "spec": spec}),
        (
            "CronWorkflow",
            lambda spec: {"metadata": {"name": "nightly"}, "spec": {"schedules": ["0 1 * * *"], "workflowSpec": spec}},
        ),
    ],
)
def test_workflow_template_and_cron_workflow_run_as_a_workflow(kind, wrap):
    document = {"apiVersion": "argoproj.io/v1alpha1", "kind": kind, **wrap(copy.deepcopy(HELLO["spec"]))}
    manifest = load(document)
    assert manifest["kind"] == "Workflow"
    assert manifest["metadata"]["generateName"] == ("tpl-" if kind == "WorkflowTemplate" else "nightly-")
    assert execute(document, show_progress=False).phase == "Succeeded"


def test_cron_workflow_problems_name_the_place_in_its_file():
    document = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "c"},
        "spec": {"workflowSpec": {**copy.deepcopy(HELLO["spec"]), "hooks": {"running": {"template": "x"}}}},
    }
    with pytest.raises(InvalidInput, match=r"manifest: spec.workflowSpec.hooks.running: not supported"):
        load(document)


def test_a_cron_workflow_run_knows_when_it_was_scheduled():
    # Argo's cron controller annotates each Workflow it creates with
    # workflows.argoproj.io/scheduled-time, which {{workflow.scheduledTime}} reads (RFC 3339;
    # docs/variables.md: "only available for CronWorkflow"). A run of it here is scheduled for now.
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "container": {"image": "alpine", "command": ["echo", "{{workflow.scheduledTime}}"]}}
        ],
    }
    document = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "c"},
        "spec": {"workflowSpec": spec},
    }
    before = time.time()
    result = execute(document, show_progress=False)
    assert result.phase == "Succeeded"
    scheduled = datetime.strptime(result.root.stdout_tail[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before - 1 <= scheduled <= time.time()
    # A plain Workflow has no schedule: the variable is refused before anything runs, as Argo's lint does.
    plain = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "w-"}, "spec": spec}
    with pytest.raises(InvalidInput, match=r"workflow\.scheduledTime"):
        load(plain)
