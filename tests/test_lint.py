"""The offline Argo lint: one broken manifest per rule, Argo's own examples, the command."""

from __future__ import annotations

import copy
import io

import pytest
import yaml

from kaleidoscope.workflows import builder
from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.lint import lint, lint_text
from tests.argo_schema import require_examples
from tools import argo_golden

GOLDEN = yaml.safe_load(argo_golden.render("workflow"))

DIAMOND = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: diamond-}
spec:
  entrypoint: diamond
  arguments:
    parameters:
    - {name: mode, value: fast, enum: [fast, slow]}
  templates:
  - name: diamond
    dag:
      tasks:
      - {name: A, template: echo, arguments: {parameters: [{name: message, value: A}]}}
      - {name: B, depends: A, template: echo, arguments: {parameters: [{name: message, value: "{{tasks.A.outputs.result}}"}]}}
      - {name: C, depends: A, template: echo, arguments: {parameters: [{name: message, value: "{{workflow.parameters.mode}}"}]}}
      - {name: D, depends: "B && C.Succeeded", template: echo, arguments: {parameters: [{name: message, value: D}]}}
  - name: echo
    inputs:
      parameters:
      - name: message
      - {name: level, default: info, enum: [info, debug]}
    container:
      image: busybox
      command: [echo, "{{inputs.parameters.message}}", "{{inputs.parameters.level}}", "{{pod.name}}"]
""")

STEPS = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: steps}
spec:
  templates:
  - name: main
    steps:
    - - {name: generate, template: gen}
    - - name: print
        template: print
        arguments: {parameters: [{name: message, value: "{{steps.generate.outputs.result}} {{item}}"}]}
        withItems: [1, 2]
  - name: gen
    script: {image: python, command: [python], source: "print(1)"}
  - name: print
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.message}}"]}
""")


def broken(document: dict, change) -> list[str]:
    document = copy.deepcopy(document)
    change(document)
    return lint(document)


def test_clean_manifests_have_no_problems():
    assert lint(DIAMOND) == []
    assert lint(STEPS) == []
    assert lint(GOLDEN) == []


def test_argos_own_examples_lint_clean():
    folder = require_examples()
    files = sorted(folder.glob("*.yaml"))
    assert files, f"no examples in {folder}"
    for path in files:
        assert lint_text(path.read_text(encoding="utf-8"), path.name) == [], path.name


# -- template references -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, where, words",
    [
        (lambda d: d["spec"].update(entrypoint="diamnd"), "spec.entrypoint", "template 'diamnd' is not defined"),
        (lambda d: d["spec"].update(onExit="cleanup"), "spec.onExit", "template 'cleanup' is not defined"),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][2].update(template="ecko"),
            "spec.templates[0].dag.tasks[2].template",
            "template 'ecko' is not defined (templates: diamond, echo)",
        ),
        (lambda d: d["spec"].pop("entrypoint"), "spec.entrypoint", "required"),
        (
            lambda d: d["spec"]["templates"][1].update(name="diamond"),
            "spec.templates[1].name",
            "already the name of spec.templates[0]",
        ),
    ],
)
def test_every_template_reference_resolves(change, where, words):
    problems = broken(DIAMOND, change)
    assert any(p.startswith(f"{where}: ") and words in p for p in problems), problems


def test_a_step_reference_resolves_too():
    problems = broken(STEPS, lambda d: d["spec"]["templates"][0]["steps"][1][0].update(template="prnt"))
    assert problems == [
        "spec.templates[0].steps[1][0].template: template 'prnt' is not defined (templates: gen, main, print)"
    ]


def test_a_cron_workflows_paths_start_at_its_workflow_spec():
    cron = yaml.safe_load(argo_golden.render("cronworkflow"))
    problems = broken(
        cron, lambda d: d["spec"]["workflowSpec"]["templates"][0]["dag"]["tasks"][1].update(template="augmnt")
    )
    assert problems[0].startswith(
        "spec.workflowSpec.templates[0].dag.tasks[1].template: template 'augmnt' is not defined"
    )


# -- variables ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, where, words",
    [
        # a workflow parameter that is not declared
        (
            lambda d: d["spec"]["templates"][1]["container"]["command"].append("{{workflow.parameters.speed}}"),
            "spec.templates[1].container.command[4]",
            "no workflow parameter 'speed'",
        ),
        # an input the template does not declare
        (
            lambda d: d["spec"]["templates"][1]["container"]["command"].append("{{inputs.parameters.mesage}}"),
            "spec.templates[1].container.command[4]",
            "no input parameter 'mesage' (inputs: level, message)",
        ),
        # item outside a loop
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"]["parameters"][0].update(
                value="{{item}}"
            ),
            "spec.templates[0].dag.tasks[0].arguments.parameters[0].value",
            "withItems, withParam or withSequence",
        ),
        # a task that is not upstream (D runs after B and C, not before A)
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][1]["arguments"]["parameters"][0].update(
                value="{{tasks.D.outputs.result}}"
            ),
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "task 'D' is not upstream of this task",
        ),
        # a task that does not exist
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][3].update(when="{{tasks.E.status}} == Succeeded"),
            "spec.templates[0].dag.tasks[3].when",
            "no task 'E' in this DAG",
        ),
        # an output the task's template does not declare
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][1]["arguments"]["parameters"][0].update(
                value="{{tasks.A.outputs.parameters.x}}"
            ),
            "spec.templates[0].dag.tasks[1].arguments.parameters[0].value",
            "task 'A' has no 'outputs.parameters.x'",
        ),
        # pod.name outside a pod template
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"]["parameters"][0].update(
                value="{{pod.name}}"
            ),
            "spec.templates[0].dag.tasks[0].arguments.parameters[0].value",
            "only a template that runs a pod",
        ),
        # tasks.* in a container
        (
            lambda d: d["spec"]["templates"][1]["container"].update(args=["{{tasks.A.outputs.result}}"]),
            "spec.templates[1].container.args[0]",
            "tasks.* is only defined inside a DAG template",
        ),
        # an unclosed tag
        (
            lambda d: d["spec"]["templates"][1]["container"].update(args=["{{inputs.parameters.message"]),
            "spec.templates[1].container.args[0]",
            "never closed",
        ),
        # a mutex named after a parameter that is not declared (Argo would keep the tag as the name)
        (
            lambda d: d["spec"].update(synchronization={"mutexes": [{"name": "m-{{workflow.parameters.speed}}"}]}),
            "spec.synchronization.mutexes[0].name",
            "no workflow parameter 'speed'",
        ),
        # a workflow output in a lock: the lock is taken before anything ran
        (
            lambda d: d["spec"].update(synchronization={"mutexes": [{"name": "{{workflow.outputs.parameters.x}}"}]}),
            "spec.synchronization.mutexes[0].name",
            "not a workflow variable of this manifest",
        ),
        # a run's title naming an input: only the workflow's variables exist there
        (
            lambda d: d["spec"].update(workflowMetadata={"annotations": {"t": "{{inputs.parameters.message}}"}}),
            "spec.workflowMetadata.annotations.t",
            "this template has no input parameter 'message'",
        ),
    ],
)
def test_every_variable_resolves(change, where, words):
    problems = broken(DIAMOND, change)
    assert any(p.startswith(f"{where}: ") and words in p for p in problems), problems


def test_the_workflow_level_lock_and_run_metadata_may_use_the_workflows_variables():
    document = copy.deepcopy(DIAMOND)
    document["spec"]["synchronization"] = {
        "mutexes": [{"name": "m-{{workflow.parameters.mode}}", "namespace": "{{workflow.namespace}}", "database": True}]
    }
    document["spec"]["workflowMetadata"] = {"annotations": {"t": "{{workflow.name}}: {{workflow.parameters.mode}}"}}
    assert lint(document) == []


def test_step_outputs_resolve_only_from_earlier_groups_and_items_only_in_loops():
    same_group = broken(
        STEPS,
        lambda d: d["spec"]["templates"][0]["steps"][0].append(
            {
                "name": "early",
                "template": "print",
                "arguments": {"parameters": [{"name": "message", "value": "{{steps.generate.outputs.result}}"}]},
            }
        ),
    )
    assert same_group == [
        "spec.templates[0].steps[0][1].arguments.parameters[0].value: {{steps.generate.outputs.result}} does not resolve: "
        "step 'generate' runs in the same group, at the same time"
    ]
    no_loop = broken(STEPS, lambda d: d["spec"]["templates"][0]["steps"][1][0].pop("withItems"))
    assert len(no_loop) == 1 and "{{item}} does not resolve" in no_loop[0]
    keyed = broken(
        STEPS,
        lambda d: d["spec"]["templates"][0]["steps"][1][0].update(
            withItems=[{"os": "debian"}], arguments={"parameters": [{"name": "message", "value": "{{item.tag}}"}]}
        ),
    )
    assert keyed == [
        "spec.templates[0].steps[1][0].arguments.parameters[0].value: {{item.tag}} does not resolve: no item has the key 'tag' (keys: os)"
    ]


def test_variables_argo_resolves_at_run_time_or_does_not_check_pass():
    def change(d):
        d["spec"]["templates"][1]["container"]["args"] = [
            "{{workflow.creationTimestamp.RFC3339}}",
            "{{=inputs.parameters.message + 'x'}}",
            "{{retries}}",
            "{{workflow.name}}",
            "{{workflow.uid}}",
            "{{outputs.parameters.x.path}}",
            "{{my.own.thing}}",
        ]

    assert broken(DIAMOND, change) == []


def test_our_workflow_needs_the_upstream_shard_for_its_fan_out():
    problems = broken(GOLDEN, lambda d: d["spec"]["templates"][0]["dag"]["tasks"][1].pop("depends"))
    assert problems == [
        "spec.templates[0].dag.tasks[1].withParam: {{tasks.shard.outputs.parameters.shards}} does not resolve: "
        "task 'shard' is not upstream of this task: add it to depends"
    ]


# -- DAG dependencies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, where, words",
    [
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][3].update(depends="B && F"),
            "spec.templates[0].dag.tasks[3].depends",
            "task 'F' is not defined in this DAG (tasks: A, B, C, D)",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][3].update(depends="B && C.Finished"),
            "spec.templates[0].dag.tasks[3].depends",
            "task result 'Finished' for task 'C' is invalid (one of Succeeded, Failed, Errored",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][3].update(depends="B.AnySucceeded"),
            "spec.templates[0].dag.tasks[3].depends",
            "needs task 'B' to loop",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][0].update(depends="D"),
            "spec.templates[0].dag.tasks[0].depends",
            "dependency cycle (each waits for the next): A -> D -> B -> A",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][1].update(depends="B"),
            "spec.templates[0].dag.tasks[1].depends",
            "dependency cycle (each waits for the next): B -> B",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][3].update(dependencies=["B"]),
            "spec.templates[0].dag",
            "use depends or dependencies in one DAG, not both",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][2].update(name="B"),
            "spec.templates[0].dag.tasks[2].name",
            "'B' is already the name of",
        ),
    ],
)
def test_dag_dependencies_exist_and_have_no_cycle(change, where, words):
    problems = broken(DIAMOND, change)
    assert any(p.startswith(f"{where}: ") and words in p for p in problems), problems


def test_the_dependencies_list_form_is_checked_too():
    def change(d):
        tasks = d["spec"]["templates"][0]["dag"]["tasks"]
        for task in tasks:
            task.pop("depends", None)
        tasks[1]["dependencies"] = ["A"]
        tasks[2]["dependencies"] = ["Z"]
        tasks[0]["dependencies"] = ["B"]

    problems = broken(DIAMOND, change)
    assert (
        "spec.templates[0].dag.tasks[2].dependencies[0]: task 'Z' is not defined in this DAG (tasks: A, B, C, D)"
        in problems
    )
    assert (
        "spec.templates[0].dag.tasks[0].dependencies: dependency cycle (each waits for the next): A -> B -> A"
        in problems
    )


# -- enums and inputs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, where, words",
    [
        (
            lambda d: d["spec"]["arguments"]["parameters"][0].update(value="medium"),
            "spec.arguments.parameters[0].value",
            "'medium' is not one of its enum values ('fast', 'slow')",
        ),
        (
            lambda d: d["spec"]["arguments"]["parameters"][0].update(enum=[]),
            "spec.arguments.parameters[0].enum",
            "at least one value",
        ),
        (
            lambda d: d["spec"]["templates"][1]["inputs"]["parameters"][1].update(default="trace"),
            "spec.templates[1].inputs.parameters[1].default",
            "'trace' is not one of its enum values",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"]["parameters"].append(
                {"name": "level", "value": "loud"}
            ),
            "spec.templates[0].dag.tasks[0].arguments.parameters[1].value",
            "'loud' is not one of template 'echo' enum values",
        ),
        (
            lambda d: d["spec"]["templates"][0]["dag"]["tasks"][0].pop("arguments"),
            "spec.templates[0].dag.tasks[0].arguments",
            "template 'echo' needs the input parameter 'message'",
        ),
    ],
)
def test_enums_contain_their_default_and_required_inputs_are_given(change, where, words):
    problems = broken(DIAMOND, change)
    assert any(p.startswith(f"{where}: ") and words in p for p in problems), problems


def test_the_golden_incremental_enum_must_hold_its_value():
    problems = broken(GOLDEN, lambda d: d["spec"]["arguments"]["parameters"][4].update(value="yes"))
    assert problems == ["spec.arguments.parameters[4].value: 'yes' is not one of its enum values ('true', 'false')"]


def test_an_entrypoints_inputs_come_from_the_workflow_arguments():
    problems = broken(DIAMOND, lambda d: d["spec"].update(entrypoint="echo"))
    assert problems == [
        "spec.entrypoint: template 'echo' needs the input parameter 'message': add it to spec.arguments.parameters"
    ]


# -- documents and the command ------------------------------------------------------------------


def test_not_a_manifest():
    assert lint(["a", "list"]) == ["<document>: not a mapping: an Argo manifest is a YAML/JSON object"]
    assert lint({"kind": "Pod"}) == [
        "kind: bad value 'Pod': lint knows Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow"
    ]


def test_command_exits_0_on_clean_files_and_2_naming_each_problem(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(builder.render(argo_golden.EXAMPLE_SPEC))
    assert main(["lint", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"

    bad = tmp_path / "bad.yaml"
    document = copy.deepcopy(DIAMOND)
    document["spec"]["templates"][0]["dag"]["tasks"][3]["depends"] = "B && F"
    document["spec"]["entrypoint"] = "nope"
    bad.write_text(yaml.safe_dump(document))
    assert main(["lint", str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert f"kaleidoscope: {bad}: spec.entrypoint: template 'nope' is not defined (templates: diamond, echo)" in errors
    assert (
        f"kaleidoscope: {bad}: spec.templates[0].dag.tasks[3].depends: task 'F' is not defined in this DAG (tasks: A, B, C, D)"
        in errors
    )
    assert f"{good}: ok" in captured.out and str(bad) not in captured.out


def test_command_reads_several_documents_and_standard_input(monkeypatch, capsys):
    second = copy.deepcopy(DIAMOND)
    second["spec"]["entrypoint"] = "nope"
    text = yaml.safe_dump_all([DIAMOND, second])
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["lint", "-"]) == 2
    assert (
        "kaleidoscope: <stdin> (document 2): spec.entrypoint: template 'nope' is not defined" in capsys.readouterr().err
    )


@pytest.mark.parametrize("content, words", [("a: [", "not valid YAML"), ("", "holds no manifest")])
def test_command_refuses_what_is_not_yaml(tmp_path, capsys, content, words):
    path = tmp_path / "x.yaml"
    path.write_text(content)
    assert main(["lint", str(path)]) == 2
    assert words in capsys.readouterr().err
    assert main(["lint", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


# -- custom metrics ----------------------------------------------------------------------------

METRICS = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: metrics-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: team, value: vision}]}
  metrics:
    prometheus:
    - name: run_seconds
      help: Duration of a run.
      labels: [{key: team, value: "{{workflow.parameters.team}}"}, {key: status, value: "{{workflow.status}}"}]
      gauge: {realtime: false, value: "{{workflow.duration}}"}
  templates:
  - name: main
    inputs: {parameters: [{name: shard, value: "0"}]}
    outputs: {parameters: [{name: count, valueFrom: {path: /tmp/count}}]}
    metrics:
      prometheus:
      - name: count_total
        help: Things counted.
        when: "{{status}} == Succeeded"
        labels: [{key: shard, value: "{{inputs.parameters.shard}}"}, {key: exit, value: "{{exitCode}}"}]
        counter: {value: "{{outputs.parameters.count}}"}
      - name: step_seconds
        help: Step time.
        gauge: {realtime: true, value: "{{duration}}"}
    container: {image: busybox, command: [sh, -c, "echo 3 > /tmp/count"]}
""")


def _metric(document: dict, index: int) -> dict:
    return document["spec"]["templates"][0]["metrics"]["prometheus"][index]


def test_clean_metrics_pass():
    assert lint(METRICS) == []


@pytest.mark.parametrize(
    "change, where, words",
    [
        (lambda d: _metric(d, 0).update(name="count-total"), "metrics.prometheus[0].name", "Prometheus' rule"),
        (lambda d: _metric(d, 0).update(name="count:total"), "metrics.prometheus[0].name", "refuses ':'"),
        (
            lambda d: _metric(d, 0)["labels"].append({"key": "instance", "value": "x"}),
            "metrics.prometheus[0].labels[2].key",
            "renames this one exported_instance",
        ),
        (lambda d: _metric(d, 0)["labels"].append({"key": "__x", "value": "x"}), "labels[2].key", "Prometheus' own"),
        (lambda d: _metric(d, 0).pop("help"), "metrics.prometheus[0].help", "required"),
        (lambda d: _metric(d, 0).update(gauge={"realtime": False, "value": "1"}), "prometheus[0]", "exactly one of"),
        (lambda d: _metric(d, 0).update(counter={"value": ""}), "prometheus[0].counter.value", "required"),
        (lambda d: _metric(d, 1)["gauge"].update(value="{{retries}}"), "gauge.value", "records only {{duration}}"),
        (
            lambda d: _metric(d, 0)["counter"].update(value="{{outputs.parameters.cont}}"),
            "metrics.prometheus[0].counter.value",
            "{{outputs.parameters.cont}} does not resolve: the emitting node has no outputs.parameters.cont "
            "(its outputs: outputs.parameters.count, outputs.result)",
        ),
        (
            lambda d: _metric(d, 0)["labels"][0].update(value="{{inputs.parameters.shrd}}"),
            "labels[0].value",
            "this template has no input parameter 'shrd'",
        ),
        (lambda d: _metric(d, 0).update(when="{{stauts}} == Succeeded"), "prometheus[0].when", "not a variable"),
        (
            lambda d: d["spec"]["metrics"]["prometheus"][0]["labels"][0].update(value="{{workflow.parameters.tem}}"),
            "spec.metrics.prometheus[0].labels[0].value",
            "no workflow parameter 'tem'",
        ),
        (
            lambda d: d["spec"]["metrics"]["prometheus"][0].update(name="count_total"),
            "spec.templates[0].metrics.prometheus[0]",
            "metric 'count_total' is also spec.metrics.prometheus[0] with another help or kind",
        ),
    ],
)
def test_every_metric_rule(change, where, words):
    problems = broken(METRICS, change)
    assert any(where in p.split(": ")[0] and words in p for p in problems), problems


def test_the_builders_metrics_lint_clean_and_a_misspelt_output_does_not():
    assert lint(GOLDEN) == [] and "metrics" in GOLDEN["spec"]
    manifest = copy.deepcopy(GOLDEN)
    template = next(t for t in manifest["spec"]["templates"] if t["name"] == "manifest")
    template["metrics"]["prometheus"][1]["counter"]["value"] = "{{outputs.parameters.input}}"
    [problem] = lint(manifest)
    assert "{{outputs.parameters.input}} does not resolve" in problem
