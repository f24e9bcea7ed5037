"""``templateRef`` and ``workflowTemplateRef``: WorkflowTemplates given to a run, resolved as Argo does.

Argo's template resolution (``workflow/templateresolution/context.go``): a referenced template
runs in the referencing workflow (its ``workflow.*`` variables), with the task's arguments as its
inputs, and the templates it calls by name are those of its own WorkflowTemplate. A
``workflowTemplateRef`` runs the template's spec joined with the workflow's own
(``JoinWorkflowSpec`` in ``workflow/util/merge.go``). Every workflow here really runs its nodes,
and Kaleidoscope's committed WorkflowTemplate runs as one task of a user's pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.executor import Registry, execute, load
from kaleidoscope.workflows.executor.merge import join
from tests.conftest import BAD_IMAGES, GOOD_IMAGES, read_records

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
KALEIDOSCOPE = WORKFLOWS / "kaleidoscope-workflowtemplate.yaml"


def params(**values) -> dict:
    return {"parameters": [{"name": name, "value": value} for name, value in values.items()]}


def workflow(templates: list[dict], entrypoint: str = "main", parameters: dict | None = None, **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "user-"},
        "spec": {"entrypoint": entrypoint, "arguments": params(**(parameters or {})), "templates": templates, **spec},
    }


def template_object(name: str, templates: list[dict], kind: str = "WorkflowTemplate", **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"templates": templates, **spec},
    }


def writes(name: str, text: str, inputs=()) -> dict:
    """A script template that writes ``text`` as its output ``out``."""
    template = {
        "name": name,
        "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out"}}]},
        "script": {"image": "python", "command": ["python3"], "source": f"open('/tmp/out', 'w').write({text!r})"},
    }
    if inputs:
        template["inputs"] = {"parameters": [{"name": input_name} for input_name in inputs]}
    return template


def run(manifest, templates=None, parameters=None, **options):
    return execute(manifest, parameters, templates=templates, show_progress=False, **options)


def problems_of(manifest, templates=None, parameters=None) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load(manifest, parameters, templates)
    assert caught.value.exit_code == 2
    return caught.value.problems


# A WorkflowTemplate whose entry template takes an input, calls its own templates by name and
# exposes a DAG output; its `echo` reads the running workflow's name and parameters.
LIBRARY = template_object(
    "library",
    [
        {
            "name": "twice",
            "inputs": {"parameters": [{"name": "word"}]},
            "outputs": {
                "parameters": [
                    {"name": "joined", "valueFrom": {"parameter": "{{tasks.second.outputs.parameters.out}}"}}
                ]
            },
            "dag": {
                "tasks": [
                    {"name": "first", "template": "echo", "arguments": params(text="{{inputs.parameters.word}}")},
                    {
                        "name": "second",
                        "template": "echo",
                        "depends": "first",
                        "arguments": params(text="{{tasks.first.outputs.parameters.out}}+{{inputs.parameters.word}}"),
                    },
                ]
            },
        },
        writes("echo", "{{inputs.parameters.text}}@{{workflow.parameters.greeting}}", inputs=["text"]),
    ],
    entrypoint="twice",
    arguments=params(greeting="from-the-template", word="w"),
)


def test_a_template_ref_runs_with_the_tasks_arguments_and_its_outputs_reach_the_next_task(tmp_path):
    manifest = workflow(
        [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {
                            "name": "library",
                            "templateRef": {"name": "library", "template": "twice"},
                            "arguments": params(word="abc"),
                        },
                        {
                            "name": "after",
                            "template": "echo",
                            "depends": "library",
                            "arguments": params(text="got {{tasks.library.outputs.parameters.joined}}"),
                        },
                    ]
                },
            },
            # The workflow's own `echo`: the referenced template's calls must not find it.
            writes("echo", "local {{inputs.parameters.text}} in {{workflow.name}}", inputs=["text"]),
        ],
        parameters={"greeting": "hi"},
    )
    # One file, several documents: the WorkflowTemplate and an unrelated one.
    file = tmp_path / "templates.yaml"
    file.write_text(yaml.safe_dump_all([template_object("unrelated", [writes("x", "x")]), LIBRARY]))
    result = run(manifest, [file])
    assert result.phase == "Succeeded", result.message
    # The referenced template ran with the workflow's parameters (not its WorkflowTemplate's).
    assert result.node("library").outputs == {"joined": "abc@hi+abc@hi"}
    assert result.node("after").outputs == {"out": f"local got abc@hi+abc@hi in {result.name}"}
    templates = {node.display_name: node.template for node in result.nodes}
    assert templates["library"] == "library/twice"  # as argo get shows a templateRef node
    assert templates["first"] == templates["second"] == "echo"


def test_steps_call_a_referenced_template_whose_calls_go_on_in_other_workflow_templates(tmp_path):
    # library-steps (steps) -> its own `shout` by name -> by templateRef a ClusterWorkflowTemplate
    # `cluster-lib` -> its own `echo` by name; and the same name `echo` means a different template
    # in each object.
    steps_library = template_object(
        "library-steps",
        [
            {
                "name": "entry",
                "inputs": {"parameters": [{"name": "word"}]},
                "outputs": {
                    "parameters": [
                        {"name": "said", "valueFrom": {"parameter": "{{steps.shout.outputs.parameters.out}}"}}
                    ]
                },
                "steps": [
                    [{"name": "shout", "template": "shout", "arguments": params(word="{{inputs.parameters.word}}")}],
                ],
            },
            {
                "name": "shout",
                "inputs": {"parameters": [{"name": "word"}]},
                "outputs": {
                    "parameters": [
                        {"name": "out", "valueFrom": {"parameter": "{{tasks.inner.outputs.parameters.out}}"}}
                    ]
                },
                "dag": {
                    "tasks": [
                        {
                            "name": "inner",
                            "templateRef": {"name": "cluster-lib", "template": "loud", "clusterScope": True},
                            "arguments": params(word="{{inputs.parameters.word}}"),
                        }
                    ]
                },
            },
            writes("echo", "the steps library's echo"),
        ],
    )
    cluster_library = template_object(
        "cluster-lib",
        [
            {
                "name": "loud",
                "inputs": {"parameters": [{"name": "word"}]},
                "outputs": {
                    "parameters": [{"name": "out", "valueFrom": {"parameter": "{{steps.echo.outputs.parameters.out}}"}}]
                },
                "steps": [
                    [{"name": "echo", "template": "echo", "arguments": params(text="{{inputs.parameters.word}}")}]
                ],
            },
            writes("echo", "{{inputs.parameters.text}}!", inputs=["text"]),
        ],
        kind="ClusterWorkflowTemplate",
    )
    manifest = workflow(
        [
            {
                "name": "main",
                "steps": [
                    [
                        {
                            "name": "call",
                            "templateRef": {"name": "library-steps", "template": "entry"},
                            "arguments": params(word="{{item}}"),
                            "withItems": ["a", "b"],
                        }
                    ],
                    [
                        {
                            "name": "show",
                            "template": "echo",
                            "arguments": params(text="{{steps.call.outputs.parameters.said}}"),
                        }
                    ],
                ],
            },
            writes("echo", "{{inputs.parameters.text}}", inputs=["text"]),
        ]
    )
    result = run(manifest, Registry([steps_library, yaml.safe_dump(cluster_library)]))
    assert result.phase == "Succeeded", result.message
    assert result.node("show").outputs == {"out": '["a!","b!"]'}
    assert [node.template for node in result.nodes if node.display_name == "inner"] == ["cluster-lib/loud"] * 2
    # A WorkflowTemplate is not a ClusterWorkflowTemplate: clusterScope decides which kind is found.
    wrong = json.loads(json.dumps(steps_library).replace('"clusterScope": true', '"clusterScope": false'))
    problems = problems_of(manifest, [wrong, cluster_library])
    assert problems == [
        "templates[0]: WorkflowTemplate library-steps: spec.templates[1].dag.tasks[0].templateRef: "
        "WorkflowTemplate 'cluster-lib' not found: give its manifest to the run "
        "(run-workflow --templates FILE, or execute(..., templates=[...]))"
    ]


def test_a_referenced_template_is_checked_as_the_workflows_own_are(tmp_path):
    library = template_object(
        "library",
        [
            {
                "name": "uses",
                "inputs": {"parameters": [{"name": "needed"}]},
                "container": {
                    "image": "x",
                    "command": ["echo", "{{workflow.parameters.missing}}", "{{inputs.parameters.nope}}"],
                },
            },
            {"name": "unused", "container": {"image": "x", "command": ["echo", "{{workflow.parameters.other}}"]}},
        ],
    )
    file = tmp_path / "library.yaml"
    file.write_text(yaml.safe_dump(library))
    task = {"name": "a", "templateRef": {"name": "library", "template": "uses"}}
    manifest = workflow([{"name": "main", "dag": {"tasks": [task]}}])
    # Every problem at once: the call's, and those of the template it reaches, at its place.
    referenced_problems = [
        f"{file}: WorkflowTemplate library: spec.templates[0].container.command[1]: "
        "{{workflow.parameters.missing}} does not resolve: no workflow parameter 'missing': a template run by "
        "templateRef sees the parameters of the workflow that runs it: declare 'missing' in that workflow's "
        "spec.arguments",
        f"{file}: WorkflowTemplate library: spec.templates[0].container.command[2]: "
        "{{inputs.parameters.nope}} does not resolve: this template has no input parameter 'nope' (inputs: needed)",
    ]
    assert problems_of(manifest, [file]) == [
        "manifest: spec.templates[0].dag.tasks[0].arguments: template 'uses' needs the input parameter 'needed'",
        *referenced_problems,
    ]
    task["arguments"] = params(needed="n")
    assert (
        problems_of(manifest, [file]) == referenced_problems
    )  # `unused` is not reached: not checked, as Argo checks only what a workflow runs
    # Fields the executor refuses are refused in a referenced template too, at their place.
    library["spec"]["templates"][0]["container"]["envFrom"] = []
    assert any(
        problem.startswith("templates[0]: WorkflowTemplate library: spec.templates[0].container.envFrom: not supported")
        for problem in problems_of(manifest, [library])
    )


@pytest.mark.parametrize(
    "ref, problem",
    [
        (
            {"name": "library", "template": "twice", "clusterScope": "yes"},
            "spec.templates[0].dag.tasks[0].templateRef.clusterScope: bad value 'yes': must be true or false",
        ),
        ({"name": "library"}, "spec.templates[0].dag.tasks[0].templateRef.template: required"),
        (
            {"name": "{{workflow.parameters.lib}}", "template": "twice"},
            "spec.templates[0].dag.tasks[0].templateRef.name: a reference named with variables is resolved only at run time",
        ),
        (
            {"name": "library", "template": "twice", "extra": 1},
            "spec.templates[0].dag.tasks[0].templateRef.extra: unknown field",
        ),
    ],
)
def test_a_bad_template_ref_is_refused(ref, problem):
    manifest = workflow(
        [{"name": "main", "dag": {"tasks": [{"name": "a", "templateRef": ref, "arguments": params(word="w")}]}}]
    )
    assert any(line.startswith(f"manifest: {problem}") for line in problems_of(manifest, [LIBRARY])), problem


def test_template_and_template_ref_together_are_refused():
    task = {"name": "a", "template": "main", "templateRef": {"name": "library", "template": "twice"}}
    problems = problems_of(workflow([{"name": "main", "dag": {"tasks": [task]}}]), [LIBRARY])
    assert (
        "manifest: spec.templates[0].dag.tasks[0]: give exactly one of template, templateRef, inline "
        "(found: template, templateRef)" in problems
    )


def test_a_workflow_template_ref_joins_the_templates_spec_with_the_workflows():
    library = json.loads(json.dumps(LIBRARY))
    library["spec"]["templates"].append(writes("other", "other ran with {{workflow.parameters.word}}"))
    library["spec"]["parallelism"] = 3
    by_reference = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "by-reference-"},
        "spec": {"workflowTemplateRef": {"name": "library"}, "arguments": params(word="mine", extra="x")},
    }
    joined = load(by_reference, templates=[library])
    assert joined["spec"]["entrypoint"] == "twice" and joined["spec"]["parallelism"] == 3
    assert joined["metadata"]["labels"] == {"workflows.argoproj.io/workflow-template": "library"}
    result = run(by_reference, [library])
    assert result.phase == "Succeeded", result.message
    # workflow.parameters: the template's, the workflow's value winning, its new ones added.
    assert result.parameters == {"greeting": "from-the-template", "word": "mine", "extra": "x"}
    assert result.node(result.name).outputs == {"joined": "mine@from-the-template+mine@from-the-template"}
    # The workflow's entrypoint wins over the template's; -p over both.
    by_reference["spec"]["entrypoint"] = "other"
    result = run(by_reference, [library], {"word": "given"})
    assert result.phase == "Succeeded" and result.node(result.name).outputs == {"out": "other ran with given"}
    # A workflow with a workflowTemplateRef has no templates of its own (Argo refuses them too).
    by_reference["spec"]["templates"] = [writes("mine", "x")]
    assert problems_of(by_reference, [library]) == [
        "manifest: spec.templates: a workflow with a workflowTemplateRef has no templates of its own "
        "(they come from the WorkflowTemplate)"
    ]


def test_the_entrypoint_takes_its_inputs_from_the_joined_parameters():
    library = json.loads(json.dumps(LIBRARY))
    library["spec"]["arguments"] = params(greeting="g")
    by_reference = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "by-reference-"},
        "spec": {"workflowTemplateRef": {"name": "library"}},
    }
    # As Argo's validation processes the entrypoint with the workflow's arguments.
    assert problems_of(by_reference, [library]) == [
        "templates[0]: WorkflowTemplate library: spec.entrypoint: template 'twice' needs the input parameter "
        "'word': add it to spec.arguments.parameters"
    ]
    assert load(by_reference, {"word": "w"}, [library])["spec"]["entrypoint"] == "twice"


def test_a_cron_workflow_with_a_workflow_template_ref_places_problems_where_they_are(tmp_path):
    library = json.loads(json.dumps(LIBRARY))
    library["spec"]["arguments"] = params(greeting=None, word="w")
    library["spec"]["arguments"]["parameters"][1]["enum"] = ["w"]
    file = tmp_path / "library.yaml"
    file.write_text(yaml.safe_dump(library))
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedules": ["0 2 * * *"],
            "workflowSpec": {
                "workflowTemplateRef": {"name": "library"},
                "arguments": {"parameters": [{"name": "greeting", "enum": ["a"]}, *params(word="bad")["parameters"]]},
            },
        },
    }
    problems = problems_of(cron, [file])
    # greeting has no value anywhere; the workflow declared it, so the problem is in its file.
    assert problems == [
        "manifest: spec.workflowSpec.arguments.parameters[0].value: workflow parameter 'greeting' needs a value "
        "(in the manifest or with -p greeting=...)",
    ]  # the workflow's `word` replaces the template's whole, enum included (JoinWorkflowSpec)
    result = run(cron, [file], {"greeting": "a"})
    assert result.phase == "Succeeded", result.message
    assert result.name.startswith("nightly-") and result.parameters["word"] == "bad"
    # A template's problem is named in the template's file.
    library["spec"]["templates"][1]["script"]["source"] = "{{inputs.parameters.nope}}"
    file.write_text(yaml.safe_dump(library))
    assert problems_of(cron, [file], {"greeting": "a"}) == [
        f"{file}: WorkflowTemplate library: spec.templates[1].script.source: {{{{inputs.parameters.nope}}}} does not resolve: "
        "this template has no input parameter 'nope' (inputs: text)"
    ]


def test_join_follows_argos_strategic_merge():
    template = {
        "entrypoint": "main",
        "arguments": {
            "parameters": [
                {"name": "a", "value": "1", "enum": ["1", "2"], "description": "A"},
                {"name": "b", "description": "B"},
                {"name": "c", "value": "3"},
            ]
        },
        "volumes": [{"name": "v", "emptyDir": {"medium": "Memory"}}],
        "retryStrategy": {"limit": 3, "backoff": {"duration": "1s"}},
        "synchronization": {"mutexes": [{"name": "m"}]},
    }
    workflow_spec = {
        "entrypoint": "",
        "arguments": {
            "parameters": [{"name": "new", "value": "n"}, {"name": "c", "value": "9"}, {"name": "a", "value": "2"}]
        },
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "w", "emptyDir": {}}],
        "retryStrategy": {"limit": 1},
        "synchronization": {"mutexes": [{"name": "n"}]},
    }
    joined = join(workflow_spec, template)
    assert joined["entrypoint"] == "main"  # an empty field is not set
    # The workflow's parameter with a value replaces the template's whole (a's enum is gone);
    # the order is mergeSlice's: the workflow's items in its order, the template's own `b` before
    # the first of them that follows it in the template (`c`).
    assert joined["arguments"]["parameters"] == [
        {"name": "new", "value": "n"},
        {"name": "b", "description": "B"},
        {"name": "c", "value": "9"},
        {"name": "a", "value": "2"},
    ]
    assert joined["volumes"] == [
        {"name": "v", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        {"name": "w", "emptyDir": {}},
    ]
    assert joined["retryStrategy"] == {"limit": 1, "backoff": {"duration": "1s"}}
    assert joined["synchronization"] == {"mutexes": [{"name": "n"}]}  # a list with no merge key is replaced
    assert template["arguments"]["parameters"][0]["enum"] == ["1", "2"]  # the inputs are unchanged


def test_a_missing_reference_exits_2_naming_it(tmp_path, capsys):
    manifest = workflow(
        [{"name": "main", "dag": {"tasks": [{"name": "a", "templateRef": {"name": "library", "template": "thrice"}}]}}]
    )
    file = tmp_path / "workflow.yaml"
    file.write_text(yaml.safe_dump(manifest))
    templates = tmp_path / "templates.yaml"
    templates.write_text(yaml.safe_dump(LIBRARY))
    assert main(["run-workflow", str(file), "--no-progress"]) == 2
    assert (
        f"{file}: spec.templates[0].dag.tasks[0].templateRef: WorkflowTemplate 'library' not found: "
        "give its manifest to the run" in capsys.readouterr().err
    )
    assert main(["run-workflow", str(file), "--no-progress", "--templates", str(templates)]) == 2
    assert (
        f"{file}: spec.templates[0].dag.tasks[0].templateRef.template: no template named 'thrice' in "
        f"WorkflowTemplate library ({templates})" in capsys.readouterr().err
    )
    by_reference = tmp_path / "by-reference.yaml"
    by_reference.write_text(
        yaml.safe_dump({**manifest, "spec": {"workflowTemplateRef": {"name": "nightly", "clusterScope": True}}})
    )
    assert main(["run-workflow", str(by_reference), "--templates", str(templates), "--templates", str(file)]) == 2
    assert "only WorkflowTemplate and ClusterWorkflowTemplate documents" in capsys.readouterr().err
    assert main(["run-workflow", str(by_reference), "--templates", str(templates)]) == 2
    assert (
        f"{by_reference}: spec.workflowTemplateRef: ClusterWorkflowTemplate 'nightly' not found"
        in capsys.readouterr().err
    )


def test_templates_given_twice_or_in_another_namespace():
    with pytest.raises(
        InvalidInput, match=r"templates\[1\]: WorkflowTemplate library: given twice \(also in templates\[0\]\)"
    ):
        Registry([LIBRARY, LIBRARY])
    elsewhere = json.loads(json.dumps(LIBRARY))
    elsewhere["metadata"]["namespace"] = "team-a"
    manifest = workflow(
        [
            {
                "name": "main",
                "steps": [
                    [
                        {
                            "name": "a",
                            "templateRef": {"name": "library", "template": "twice"},
                            "arguments": params(word="w"),
                        }
                    ]
                ],
            }
        ]
    )
    manifest["metadata"]["namespace"] = "team-b"
    assert problems_of(manifest, [elsewhere], {"greeting": "g"}) == [
        "manifest: spec.templates[0].steps[0][0].templateRef: WorkflowTemplate 'library' not found in the "
        "workflow's namespace 'team-b' (the one given, templates[0], is in namespace 'team-a')"
    ]
    del manifest["metadata"]["namespace"]  # a namespace only one side names matches, as a submit would
    assert run(manifest, [elsewhere], {"greeting": "g"}).phase == "Succeeded"


# -- Kaleidoscope as one task of a user's pipeline ---------------------------------------------

SECRETS = {"kaleidoscope-s3": {"accessKeyId": "unused-locally", "secretAccessKey": "unused-locally"}}
# The stand-in for the user's next step: it reads the manifest's parts at the URL it is given.
COUNT_RECORDS = """
import pathlib
parts = sorted(pathlib.Path('{{inputs.parameters.manifest}}').glob('**/*.jsonl'))
open('/tmp/records', 'w').write(str(sum(len(part.read_text().splitlines()) for part in parts)))
"""


def stand_in(manifest_value: str) -> list[dict]:
    return [
        {
            "name": "count",
            "inputs": {"parameters": [{"name": "manifest"}]},
            "outputs": {"parameters": [{"name": "records", "valueFrom": {"path": "/tmp/records"}}]},
            "script": {"image": "python", "command": ["python3"], "source": COUNT_RECORDS},
        },
        {
            "name": "report",
            "template": "count",
            "depends": "kaleidoscope",
            "arguments": params(manifest=manifest_value),
        },
    ]


def user_pipeline(task: dict, manifest_value: str, parameters: dict | None = None) -> dict:
    count, report = stand_in(manifest_value)
    return workflow(
        [{"name": "pipeline", "dag": {"tasks": [task, report]}}, count], entrypoint="pipeline", parameters=parameters
    )


def check_the_run(result, spec_document) -> None:
    assert result.phase == "Succeeded", result.message
    records = read_records(spec_document["destination"])
    assert len(records) == GOOD_IMAGES * 2 ** len(spec_document["transforms"])
    assert result.node("report").outputs == {"records": str(len(records))}
    # main's own outputs, the task's: a WorkflowTemplate's main lifts none to the workflow's, which
    # two calls in one workflow would both write.
    outputs = result.node("kaleidoscope").outputs
    assert outputs["outputs"] == str(len(records)) and outputs["failed"] == str(BAD_IMAGES)
    assert result.outputs == {}


def test_kaleidoscope_by_template_ref_with_arguments_and_outputs(spec_document, monkeypatch):
    # What a user writes: arguments in, the manifest out of the task itself.
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    task = {
        "name": "kaleidoscope",
        "templateRef": {"name": "kaleidoscope", "template": "main"},
        "arguments": params(
            source=spec_document["source"], destination=spec_document["destination"], spec=json.dumps(spec_document)
        ),
    }
    result = run(
        user_pipeline(task, "{{tasks.kaleidoscope.outputs.parameters.manifest}}"), [KALEIDOSCOPE], secrets=SECRETS
    )
    check_the_run(result, spec_document)
    assert result.node("kaleidoscope").template == "kaleidoscope/main"
    assert {node.display_name for node in result.nodes} >= {"shard", "shard-0-of-3", "shard-2-of-3", "manifest"}
    # The run id is the workflow's uid and the call's name (main's default, as no name was given).
    summary = json.loads(Path(result.node("kaleidoscope").outputs["summary"].removeprefix("file://")).read_text())
    assert summary["run_id"] == f"{result.uid}-main"


def test_kaleidoscope_by_template_ref_takes_the_users_workflow_parameters_through_its_arguments(
    spec_document, monkeypatch
):
    # The user's own workflow parameters, under the user's names, reach main as arguments.
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    task = {
        "name": "kaleidoscope",
        "templateRef": {"name": "kaleidoscope", "template": "main"},
        "arguments": params(
            spec="{{workflow.parameters.augmentation}}",
            source="{{workflow.parameters.photos}}",
            destination="{{workflow.parameters.dataset}}",
            name="{{workflow.parameters.run}}",
        ),
    }
    manifest = user_pipeline(
        task,
        "{{tasks.kaleidoscope.outputs.parameters.manifest}}",
        {
            "augmentation": json.dumps(spec_document),
            "photos": spec_document["source"],
            "dataset": spec_document["destination"],
            "run": "nightly",
        },
    )
    result = run(manifest, [KALEIDOSCOPE], secrets=SECRETS)
    check_the_run(result, spec_document)
    summary = json.loads(Path(result.node("kaleidoscope").outputs["summary"].removeprefix("file://")).read_text())
    assert summary["run_id"] == f"{result.uid}-nightly"


def test_kaleidoscope_by_template_ref_without_its_required_arguments_is_refused(spec_document):
    # main reads its inputs, not the workflow's parameters: a task that gives none is refused
    # before anything runs, as Argo refuses it.
    task = {"name": "kaleidoscope", "templateRef": {"name": "kaleidoscope", "template": "main"}}
    manifest = user_pipeline(
        task,
        "{{tasks.kaleidoscope.outputs.parameters.manifest}}",
        {"spec": json.dumps(spec_document), "source": "s", "destination": "d"},
    )
    assert problems_of(manifest, [KALEIDOSCOPE]) == [
        f"manifest: spec.templates[0].dag.tasks[0].arguments: template 'main' needs the input parameter '{name}'"
        for name in ("spec", "source", "destination")
    ]


def test_kaleidoscope_runs_from_a_cron_workflow_by_workflow_template_ref(spec_document, monkeypatch):
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "kaleidoscope-nightly"},
        "spec": {
            "schedules": ["0 2 * * *"],
            "workflowSpec": {
                "workflowTemplateRef": {"name": "kaleidoscope"},
                "arguments": params(
                    spec=json.dumps(spec_document),
                    source=spec_document["source"],
                    destination=spec_document["destination"],
                ),
            },
        },
    }
    joined = load(cron, templates=[KALEIDOSCOPE])["spec"]
    # The WorkflowTemplate's spec runs: its entrypoint, mutex, deadline; its parameter defaults.
    assert joined["entrypoint"] == "main"
    assert joined["synchronization"] == {"mutexes": [{"name": "kaleidoscope.run-{{workflow.parameters.destination}}"}]}
    assert {param["name"]: param.get("value") for param in joined["arguments"]["parameters"]} == {
        "spec": json.dumps(spec_document),
        "source": spec_document["source"],
        "destination": spec_document["destination"],
        "s3-endpoint": "",
        "incremental": "false",
    }
    result = run(cron, [KALEIDOSCOPE], secrets=SECRETS)
    assert result.phase == "Succeeded", result.message
    assert len(read_records(spec_document["destination"])) == GOOD_IMAGES * 2 ** len(spec_document["transforms"])
