"""The Argo workflow builder: committed manifests, Argo's schema and lint, production defaults, bad input."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from hera.workflows import CronWorkflow, Resources, Workflow, WorkflowTemplate
from hera.workflows.models import Toleration

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.argo import metrics as argo_metrics
from kaleidoscope.workflows.argo import params as argo_params
from kaleidoscope.workflows.argo.options import BuildOptions, CronSchedule
from kaleidoscope.workflows.lint import lint
from tests.argo_schema import assert_valid
from tests.golden import assert_generated
from tools import argo_golden

ROOT = argo_golden.FOLDER.parent
SPEC = argo_golden.EXAMPLE_SPEC


def build(kind="workflow", options=None, schedule=None, spec=SPEC) -> dict:
    return builder.manifest(builder.build(spec, kind, options, schedule))


def workflow_spec(manifest: dict) -> dict:
    return manifest["spec"]["workflowSpec"] if manifest["kind"] == "CronWorkflow" else manifest["spec"]


def templates(manifest: dict) -> dict[str, dict]:
    return {template["name"]: template for template in workflow_spec(manifest)["templates"]}


def containers(manifest: dict) -> list[dict]:
    return [template for template in workflow_spec(manifest)["templates"] if "container" in template]


def parameters(manifest: dict) -> dict[str, dict]:
    return {parameter["name"]: parameter for parameter in workflow_spec(manifest)["arguments"]["parameters"]}


# -- committed manifests (golden files) -------------------------------------------------------


@pytest.mark.parametrize("kind", builder.KINDS)
def test_committed_manifest_equals_what_the_builder_renders_today(kind):
    assert_generated(
        argo_golden.FILES[kind],
        argo_golden.render(kind),
        "the builder",
        "KALEIDOSCOPE_REGENERATE=1 pytest tests/test_builder.py",
    )


# The schema checks are tests of their own: without ../shared/argo they skip (or fail under CI)
# while the lint, which needs nothing outside the project, still runs.


@pytest.mark.parametrize("kind", builder.KINDS)
def test_committed_manifest_passes_argos_strict_schema(kind):
    assert_valid(yaml.safe_load(argo_golden.FILES[kind].read_text(encoding="utf-8")))


@pytest.mark.parametrize("kind", builder.KINDS)
def test_committed_manifest_lints_clean(kind):
    assert lint(yaml.safe_load(argo_golden.FILES[kind].read_text(encoding="utf-8"))) == []


# -- each kind, with the default and with every option changed ----------------------------------

ALL_OPTIONS = BuildOptions(
    name="augment-nightly",
    namespace="ml",
    image="registry.example.com/kaleidoscope:1.2.3",
    image_pull_policy="Always",
    service_account="kaleidoscope-runner",
    s3_secret="minio-credentials",
    s3_endpoint="http://minio.storage:9000",
    source="s3://in/photos",
    destination="s3://out/augmented",
    mutex_database=True,
    incremental=True,
    parallelism=7,
    retries=5,
    retry_backoff="1m",
    active_deadline_seconds=3600,
    ttl_seconds_after_success=60,
    ttl_seconds_after_failure=120,
    pod_gc="OnWorkflowSuccess",
    resources={"augment": Resources(cpu_request="3", cpu_limit="3500m", memory_request="6Gi", memory_limit="8Gi")},
    node_selector={"node.kubernetes.io/pool": "batch"},
    tolerations=[Toleration(key="dedicated", operator="Equal", value="batch", effect="NoSchedule")],
    run_as_user=2000,
    tmp_size="10Gi",
    instance="nightly-prod",
    part_of="vision-datasets",
    pending_timeout="45m",
    retry_other_node=False,
    augment_memory_cap="32Gi",
    metrics=False,
)


EVERY_RENDERING = pytest.mark.parametrize(
    "options",
    [
        BuildOptions(),
        ALL_OPTIONS,
        BuildOptions(s3_secret=None, retries=0, mutex=False, pending_timeout=None, service_account=None),
    ],
    ids=["defaults", "all-options", "irsa-no-retries-no-mutex-no-pending-timeout"],
)


@EVERY_RENDERING
@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_rendering_passes_argos_strict_schema(kind, options):
    assert_valid(build(kind, options))


@EVERY_RENDERING
@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_rendering_lints_clean(kind, options):
    assert lint(build(kind, options)) == []


@pytest.mark.parametrize(
    "kind, cls, argo_kind",
    [
        ("workflow", Workflow, "Workflow"),
        ("workflowtemplate", WorkflowTemplate, "WorkflowTemplate"),
        ("cronworkflow", CronWorkflow, "CronWorkflow"),
    ],
)
def test_build_returns_the_hera_object_of_the_kind(kind, cls, argo_kind):
    built = builder.build(SPEC, kind)
    assert type(built) is cls
    assert builder.manifest(built)["kind"] == argo_kind


def test_names_workflow_by_prefix_and_template_and_cron_by_name():
    metadata = build("workflow")["metadata"]
    assert metadata["generateName"] == "kaleidoscope-" and "name" not in metadata
    assert metadata["labels"] == {
        "app.kubernetes.io/name": "kaleidoscope",
        "app.kubernetes.io/instance": "kaleidoscope",
        "app.kubernetes.io/part-of": "kaleidoscope",
    }
    assert build("workflowtemplate")["metadata"]["name"] == "kaleidoscope"
    assert build("cronworkflow", BuildOptions(name="nightly"))["metadata"]["name"] == "nightly"
    assert "namespace" not in build("workflow")["metadata"]  # left to argo submit -n
    assert build("workflow", BuildOptions(namespace="ml"))["metadata"]["namespace"] == "ml"


# -- the DAG ----------------------------------------------------------------------------------


def test_the_dag_is_shard_then_augment_fanned_out_over_the_shards_then_manifest():
    manifest = build()
    spec = workflow_spec(manifest)
    assert spec["entrypoint"] == "main"
    assert spec["templates"][0]["name"] == "main"  # read top-down
    tasks = {task["name"]: task for task in templates(manifest)["main"]["dag"]["tasks"]}
    assert list(tasks) == ["shard", "augment", "manifest"]
    assert "depends" not in tasks["shard"]
    assert tasks["augment"]["depends"] == "shard"
    assert tasks["augment"]["withParam"] == "{{tasks.shard.outputs.parameters.shards}}"
    assert tasks["augment"]["arguments"]["parameters"][-2:] == [
        {"name": "index", "value": "{{item.index}}"},
        {"name": "of", "value": "{{item.of}}"},
    ]
    assert tasks["manifest"]["depends"] == "augment"
    assert {task["template"] for task in tasks.values()} == {"shard", "augment", "manifest"}


@pytest.mark.parametrize("kind", builder.KINDS)
def test_main_takes_the_parameters_as_inputs_and_gives_the_manifest_steps_outputs(kind):
    # What makes main reusable: its values come in as inputs (the entrypoint's are filled from the
    # workflow's parameters by name), its results go out as its own outputs.
    main = templates(build(kind))["main"]
    inputs = {parameter["name"]: parameter for parameter in main["inputs"]["parameters"]}
    assert list(inputs) == [*argo_params.NAMES, "name"]
    assert all("default" not in inputs[name] for name in ("spec", "source", "destination"))  # required
    assert inputs["s3-endpoint"]["default"] == ""
    assert (inputs["incremental"]["default"], inputs["incremental"]["enum"]) == ("false", ["true", "false"])
    assert inputs["name"]["default"] == "main"
    assert all(parameter["description"] for parameter in inputs.values())
    outputs = {parameter["name"]: parameter for parameter in main["outputs"]["parameters"]}
    assert list(outputs) == ["inputs", "outputs", "failed", "manifest", "summary"]
    for name, parameter in outputs.items():
        assert parameter["valueFrom"] == {"parameter": f"{{{{tasks.manifest.outputs.parameters.{name}}}}}"}
        assert "globalName" not in parameter  # Argo never lifts the entrypoint DAG's own outputs
    # Lifted to the workflow's outputs, from the manifest pod's, only where main runs once: a
    # WorkflowTemplate's main may be called twice in one workflow, whose two calls would overwrite
    # each other's.
    for parameter in templates(build(kind))["manifest"]["outputs"]["parameters"]:
        assert parameter.get("globalName") == (None if kind == "workflowtemplate" else parameter["name"])
    assert main["parallelism"] == 20  # holds per call, whatever workflow runs main
    assert templates(build(kind, ALL_OPTIONS))["main"]["parallelism"] == 7


def test_no_template_reads_the_workflows_parameters():
    for kind in builder.KINDS:
        for template in workflow_spec(build(kind))["templates"]:
            assert "workflow.parameters" not in json.dumps(template), (kind, template["name"])


def test_each_step_runs_kaleidoscope_step_with_its_inputs_and_the_run_id():
    steps = templates(build())
    for name in ("shard", "augment", "manifest"):
        container = steps[name]["container"]
        assert container["command"] == ["kaleidoscope"]
        assert container["args"][:2] == ["step", name]
        args = container["args"]
        declared = {parameter["name"] for parameter in steps[name]["inputs"]["parameters"]}
        for flag, parameter in (
            ("--spec-text", "spec"),
            ("--source", "source"),
            ("--destination", "destination"),
            ("--s3-endpoint", "s3-endpoint"),
            ("--run-id", "run-id"),
        ):
            assert f"{flag}={{{{inputs.parameters.{parameter}}}}}" in args, (name, flag)
            assert parameter in declared
        # --flag=value: a spec starting with '---' must not be read as an option.
        assert all(arg.startswith("--") and "=" in arg for arg in args[2:])
    assert "--incremental={{inputs.parameters.incremental}}" in steps["shard"]["container"]["args"]
    assert "--incremental={{inputs.parameters.incremental}}" in steps["manifest"]["container"]["args"]
    assert "--shard={{inputs.parameters.index}}" in steps["augment"]["container"]["args"]
    # main passes its inputs on by name, and the run id: one uid for every pod and every retry of
    # this workflow, never reused by another run, then the call's name, unique within the workflow.
    for task in steps["main"]["dag"]["tasks"]:
        arguments = {parameter["name"]: parameter["value"] for parameter in task["arguments"]["parameters"]}
        assert arguments["run-id"] == "{{workflow.uid}}-{{inputs.parameters.name}}"
        for name in ("spec", "source", "destination", "s3-endpoint"):
            assert arguments[name] == f"{{{{inputs.parameters.{name}}}}}"
        assert set(arguments) == {parameter["name"] for parameter in steps[task["name"]]["inputs"]["parameters"]}


def test_output_parameters_come_from_files_the_steps_write():
    steps = templates(build())
    shards = steps["shard"]["outputs"]["parameters"]
    assert shards == [
        {
            "name": "shards",
            "description": shards[0]["description"],
            "valueFrom": {"path": "/tmp/kaleidoscope/out/shards.json"},
        }
    ]
    assert "--output=/tmp/kaleidoscope/out/shards.json" in steps["shard"]["container"]["args"]
    assert "--output-dir=/tmp/kaleidoscope/out" in steps["manifest"]["container"]["args"]
    outputs = {p["name"]: p for p in steps["manifest"]["outputs"]["parameters"]}
    assert list(outputs) == ["inputs", "outputs", "failed", "manifest", "summary"]
    for name, parameter in outputs.items():
        assert parameter["valueFrom"] == {"path": f"/tmp/kaleidoscope/out/{name}"}
        assert parameter["globalName"] == name  # a Workflow's: shown among the workflow's outputs
        assert parameter["description"]


def test_augment_pods_are_named_by_shard_and_report_progress_through_argo():
    augment = templates(build())["augment"]
    display = augment["annotations"]["workflows.argoproj.io/display-name"]
    assert display == "shard-{{inputs.parameters.index}}-of-{{inputs.parameters.of}}"
    # ARGO_PROGRESS_FILE is set by Argo; the step reads it by default, so nothing may override it.
    assert not any(env["name"] == "ARGO_PROGRESS_FILE" for env in augment["container"].get("env", []))
    assert not any(arg.startswith("--progress-file") for arg in augment["container"]["args"])


# -- production defaults ----------------------------------------------------------------------


def test_every_step_retries_with_backoff():
    steps = templates(build())
    for name in ("shard", "augment", "manifest"):
        retry = steps[name]["retryStrategy"]
        assert retry["limit"] == 3 and retry["retryPolicy"] == "Always"
        assert retry["backoff"] == {"duration": "30s", "factor": 2}
        # invalid input and permanent failures fail the same way again
        assert retry["expression"] == "asInt(lastRetry.exitCode) != 2 && asInt(lastRetry.exitCode) != 3"
    assert all("retryStrategy" not in t for t in templates(build(options=BuildOptions(retries=0))).values())
    assert (
        templates(build(options=BuildOptions(retries=5, retry_backoff="2m")))["augment"]["retryStrategy"]["backoff"][
            "duration"
        ]
        == "2m"
    )


def test_workflow_limits_and_cleanup_defaults():
    spec = workflow_spec(build())
    assert spec["parallelism"] == 20
    assert spec["activeDeadlineSeconds"] == 86400
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    changed = workflow_spec(build(options=ALL_OPTIONS))
    assert changed["parallelism"] == 7 and changed["activeDeadlineSeconds"] == 3600
    assert changed["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert changed["ttlStrategy"] == {"secondsAfterSuccess": 60, "secondsAfterFailure": 120}
    assert changed["serviceAccountName"] == "kaleidoscope-runner"
    assert changed["nodeSelector"] == {"node.kubernetes.io/pool": "batch"}
    assert changed["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}
    ]


@pytest.mark.parametrize("options", [BuildOptions(), ALL_OPTIONS], ids=["defaults", "all-options"])
def test_pods_run_non_root_read_only_without_privileges_and_with_tmp_on_an_empty_dir(options):
    manifest = build("cronworkflow", options)
    uid = options.run_as_user
    assert workflow_spec(manifest)["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for template in containers(manifest):
        # Also each pod template's own, so it holds under another workflow's spec (templateRef).
        assert template["securityContext"] == workflow_spec(manifest)["securityContext"]
        assert template["container"]["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert template["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": options.tmp_size}}]
        assert template["container"]["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert template["container"]["image"] == options.image
    assert len(containers(manifest)) == 3


def test_resources_default_per_step_and_threads_follow_augment_cpu():
    steps = templates(build())
    for name in ("shard", "augment", "manifest"):
        resources = steps[name]["container"]["resources"]
        assert set(resources) == {"requests", "limits"} and set(resources["limits"]) == {"cpu", "memory"}
    assert steps["augment"]["container"]["resources"]["limits"]["cpu"] == "2"
    assert "--threads=2" in steps["augment"]["container"]["args"]
    # 3500m of CPU: three whole cores, so three threads (the container sees all the node's cores).
    assert "--threads=3" in templates(build(options=ALL_OPTIONS))["augment"]["container"]["args"]
    assert "--threads=5" in templates(build(options=BuildOptions(threads=5)))["augment"]["container"]["args"]
    half = BuildOptions(resources={"augment": Resources(cpu_request="500m", cpu_limit="500m")})
    assert "--threads=1" in templates(build(options=half))["augment"]["container"]["args"]


def test_credentials_only_through_secret_key_refs_or_not_at_all():
    for template in containers(build()):
        env = {variable["name"]: variable for variable in template["container"]["env"]}
        assert set(env) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"}
        assert all("value" not in variable for variable in env.values())  # never a literal
        assert env["AWS_ACCESS_KEY_ID"]["valueFrom"] == {
            "secretKeyRef": {"name": "kaleidoscope-s3", "key": "accessKeyId"}
        }
        assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"] == {
            "secretKeyRef": {"name": "kaleidoscope-s3", "key": "secretAccessKey"}
        }
        assert env["AWS_REGION"]["valueFrom"] == {
            "secretKeyRef": {"name": "kaleidoscope-s3", "key": "region", "optional": True}
        }
    for template in containers(build(options=BuildOptions(s3_secret="minio"))):
        assert {v["valueFrom"]["secretKeyRef"]["name"] for v in template["container"]["env"]} == {"minio"}
    for template in containers(build(options=BuildOptions(s3_secret=None))):  # IRSA / workload identity
        assert "env" not in template["container"]


# -- parameters and the Argo UI ---------------------------------------------------------------


def test_parameters_have_descriptions_enums_and_defaults_from_spec_and_options():
    params = parameters(build())
    assert list(params) == list(argo_params.NAMES) == ["spec", "source", "destination", "s3-endpoint", "incremental"]
    assert all(param["description"] for param in params.values())
    assert params["spec"]["value"] == SPEC  # verbatim, comments included, editable in the UI
    assert params["s3-endpoint"]["value"] == ""
    # No value: each run names its own locations, never the example spec's
    assert "value" not in params["source"] and "value" not in params["destination"]
    assert params["incremental"] == {**params["incremental"], "value": "false", "enum": ["true", "false"]}
    for param in params.values():
        if "enum" in param:
            assert param["value"] in param["enum"]
    changed = parameters(build(options=ALL_OPTIONS))
    assert changed["source"]["value"] == "s3://in/photos"
    assert changed["destination"]["value"] == "s3://out/augmented"
    assert changed["s3-endpoint"]["value"] == "http://minio.storage:9000"
    assert changed["incremental"]["value"] == "true"


def test_spec_given_as_a_mapping_travels_as_yaml():
    document = yaml.safe_load(SPEC)
    value = parameters(build(spec=document))["spec"]["value"]
    assert yaml.safe_load(value) == document


def test_title_and_description_say_what_the_run_does():
    annotations = build()["metadata"]["annotations"]
    assert annotations["workflows.argoproj.io/title"] == "Kaleidoscope: 4 transforms, 16 images per input"
    description = annotations["workflows.argoproj.io/description"]
    for words in (
        "under the `source` parameter into the `destination` parameter",
        "flip_lr, rotate_zoom, brightness, contrast",
        "16 jpg images",
        "8 parallel shards",
    ):
        assert words in description
    limited = SPEC.replace("shards: 8", "shards: 8\ncombinations: {min_ops: 1, max_ops: 2}")
    assert (
        "every subset of 1 to 2" in build(spec=limited)["metadata"]["annotations"]["workflows.argoproj.io/description"]
    )


@pytest.mark.parametrize("kind", builder.KINDS)
@pytest.mark.parametrize("options", [BuildOptions(), ALL_OPTIONS], ids=["defaults", "all-options"])
def test_the_ui_never_shows_the_specs_locations_as_a_runs(kind, options):
    # The object's own annotations are never substituted: they name no location at all, not the
    # example spec's, not even the options' (a CronWorkflow's parameters may be edited).
    manifest = build(kind, options)
    own = json.dumps(manifest["metadata"]["annotations"])
    assert "s3://" not in own and "{{" not in own


@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_run_carries_the_title_with_its_own_locations(kind):
    # Argo substitutes spec.workflowMetadata with the workflow's parameters and copies its
    # annotations onto the run (operator.go: substituteGlobalVariables, then updateWorkflowMetadata).
    manifest = build(kind)
    own = manifest["metadata"]["annotations"]
    carried = workflow_spec(manifest)["workflowMetadata"]
    assert carried["annotations"] == {
        builder.TITLE: own[builder.TITLE] + " → {{workflow.parameters.destination}}",
        builder.DESCRIPTION: own[builder.DESCRIPTION]
        + " This run: {{workflow.parameters.source}} → {{workflow.parameters.destination}}.",
    }
    assert carried["labels"]["app.kubernetes.io/component"] == "workflow"


# -- one run per destination ------------------------------------------------------------------


@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_kind_takes_a_mutex_named_after_the_destination(kind):
    manifest = build(kind)
    # main's, held while it runs, whatever workflow runs it (a pipeline's templateRef included) ...
    assert templates(manifest)["main"]["synchronization"] == {
        "mutexes": [{"name": "kaleidoscope-{{inputs.parameters.destination}}"}]  # Argo 4's list form
    }
    # ... and the run's, so a second run waits Pending, before its deadline starts; never of the
    # same name, or the run would wait for itself (Argo's holder keys differ between the levels).
    assert workflow_spec(manifest)["synchronization"] == {
        "mutexes": [{"name": "kaleidoscope.run-{{workflow.parameters.destination}}"}]
    }
    assert builder.MUTEX_NAME.removesuffix("{{inputs.parameters.destination}}") == "kaleidoscope-"
    assert not builder.RUN_MUTEX_NAME.startswith("kaleidoscope-")
    if kind == "cronworkflow":
        assert "synchronization" not in manifest["spec"]  # each run's, not the CronWorkflow's
    database = build(kind, BuildOptions(mutex_database=True))
    assert workflow_spec(database)["synchronization"]["mutexes"] == [
        {"name": "kaleidoscope.run-{{workflow.parameters.destination}}", "database": True}
    ]
    assert templates(database)["main"]["synchronization"]["mutexes"] == [
        {"name": "kaleidoscope-{{inputs.parameters.destination}}", "database": True}
    ]
    without = build(kind, BuildOptions(mutex=False))
    assert "synchronization" not in workflow_spec(without)
    assert "synchronization" not in templates(without)["main"]


@pytest.mark.parametrize("kind", builder.KINDS)
@pytest.mark.parametrize("options", [BuildOptions(), BuildOptions(mutex_database=True)], ids=["local", "database"])
def test_the_mutex_passes_argos_strict_schema_and_the_lint(kind, options):
    manifest = build(kind, options)
    assert_valid(manifest)
    assert lint(manifest) == []


def test_a_misspelt_parameter_in_the_mutex_name_is_a_lint_problem():
    # Argo leaves an unknown tag as written: every run would then share one lock.
    manifest = build()
    manifest["spec"]["synchronization"]["mutexes"][0]["name"] = "kaleidoscope-{{workflow.parameters.destinaton}}"
    [problem] = lint(manifest)
    assert problem.startswith("spec.synchronization.mutexes[0].name: {{workflow.parameters.destinaton}} does not")
    manifest = build("workflowtemplate")
    manifest["spec"]["templates"][0]["synchronization"]["mutexes"][0]["name"] = "k-{{inputs.parameters.destinaton}}"
    [problem] = lint(manifest)
    assert problem.startswith("spec.templates[0].synchronization.mutexes[0].name: {{inputs.parameters.destinaton}}")


def test_a_database_mutex_needs_the_mutex():
    assert problems_of(options=BuildOptions(mutex=False, mutex_database=True)) == [
        "mutex_database: bad value true: a database mutex needs the mutex (mutex=True)"
    ]
    assert problems_of(options=BuildOptions(mutex="yes")) == ['mutex: bad value "yes": must be true or false']  # type: ignore[arg-type]


# -- where a run reads and writes ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["workflow", "workflowtemplate"])
def test_a_workflow_or_template_leaves_its_locations_to_each_run(kind):
    params = parameters(build(kind))
    assert "value" not in params["source"] and "value" not in params["destination"]
    given = parameters(build(kind, BuildOptions(source="s3://in/p", destination="s3://out/a")))
    assert (given["source"]["value"], given["destination"]["value"]) == ("s3://in/p", "s3://out/a")


def test_a_cron_workflow_carries_the_locations_it_runs_with():
    # It runs unattended, and Argo refuses a CronWorkflow whose parameter has no value.
    params = parameters(build("cronworkflow"))
    assert (params["source"]["value"], params["destination"]["value"]) == (
        "s3://my-bucket/photos",
        "s3://my-bucket/augmented",
    )
    params = parameters(build("cronworkflow", BuildOptions(destination="s3://out/a")))
    assert (params["source"]["value"], params["destination"]["value"]) == ("s3://my-bucket/photos", "s3://out/a")


def test_a_workflow_submitted_now_can_carry_the_specs_locations():
    made = builder.manifest(builder.workflow(SPEC, BuildOptions(source="s3://in/p"), carry_locations=True))
    params = parameters(made)
    assert (params["source"]["value"], params["destination"]["value"]) == ("s3://in/p", "s3://my-bucket/augmented")


def test_the_committed_workflow_refuses_to_run_locally_without_its_locations(tmp_path):
    from kaleidoscope.workflows.executor import execute

    with pytest.raises(InvalidInput) as caught:
        execute(argo_golden.FILES["workflow"], {"s3-endpoint": ""}, workdir=tmp_path, show_progress=False)
    assert caught.value.exit_code == 2
    named = [problem for problem in caught.value.problems if "needs a value" in problem]
    assert len(named) == 2 and "'source'" in named[0] and "'destination'" in named[1], caught.value.problems


# -- CronWorkflow -----------------------------------------------------------------------------


def test_cron_workflow_defaults():
    manifest = build("cronworkflow")
    spec = manifest["spec"]
    assert spec["schedules"] == ["0 2 * * *"] and "schedule" not in spec  # Argo 4: list form only
    assert spec["timezone"] == "UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5
    assert parameters(manifest)["incremental"]["value"] == "true"  # each run takes only new images
    description = manifest["metadata"]["annotations"]["workflows.argoproj.io/description"]
    assert "Runs on `0 2 * * *` (UTC). Incremental by default" in description
    once = build("cronworkflow", BuildOptions(incremental=False))["metadata"]["annotations"][
        "workflows.argoproj.io/description"
    ]
    assert "Incremental" not in once


def test_cron_workflow_schedule_options():
    schedule = CronSchedule(
        schedules=["0 3 * * 1-5", "@weekly"],
        timezone="Europe/Paris",
        concurrency_policy="Replace",
        starting_deadline_seconds=60,
        successful_jobs_history_limit=1,
        failed_jobs_history_limit=2,
    )
    spec = build("cronworkflow", schedule=schedule)["spec"]
    assert spec["schedules"] == ["0 3 * * 1-5", "@weekly"]
    assert (spec["timezone"], spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == (
        "Europe/Paris",
        "Replace",
        60,
    )
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 2)
    assert parameters(build("cronworkflow", BuildOptions(incremental=False)))["incremental"]["value"] == "false"


# -- bad input --------------------------------------------------------------------------------


def problems_of(**kwargs) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        builder.build(**{"spec": SPEC, **kwargs})
    return caught.value.problems


def test_an_invalid_spec_is_refused_with_json_paths_like_validate():
    bad = SPEC.replace("angle: [-20, 20]", "angle: [20, -20]").replace("quality: 90", "quality: 900")
    problems = problems_of(spec=bad)
    assert any(p.startswith("output.quality: bad value 900") for p in problems), problems
    with pytest.raises(InvalidInput) as caught:
        builder.build(SPEC.replace("transforms:", "transformz:"))
    assert any("transforms" in p for p in caught.value.problems)


def test_every_problem_of_spec_options_and_schedule_is_reported_at_once():
    problems = problems_of(
        spec=SPEC.replace("quality: 90", "quality: 0"),
        kind="cronworkflow",
        options=BuildOptions(parallelism=0, pod_gc="Sometimes", name="Not_A_Name"),
        schedule=CronSchedule(schedules=["61 * * * *"], timezone="Mars/Olympus"),
    )
    fields = [problem.split(":")[0] for problem in problems]
    assert fields == ["output.quality", "name", "parallelism", "pod_gc", "schedules[0]", "timezone"], problems


@pytest.mark.parametrize(
    "options, field",
    [
        (BuildOptions(name="x" * 53), "name"),
        (BuildOptions(namespace="Bad Space"), "namespace"),
        (BuildOptions(image=""), "image"),
        (BuildOptions(image_pull_policy="Sometimes"), "image_pull_policy"),
        (BuildOptions(s3_secret="no/slash"), "s3_secret"),
        (BuildOptions(retries=-1), "retries"),
        (BuildOptions(retry_backoff="30 seconds"), "retry_backoff"),
        (BuildOptions(threads=0), "threads"),
        (BuildOptions(resources={"agument": Resources(cpu_request="1")}), "resources"),
        (BuildOptions(node_selector={"pool": "has space"}), "node_selector.pool"),
        (BuildOptions(tolerations=[Toleration(key="k", effect="Never")]), "tolerations[0].effect"),
        (BuildOptions(run_as_user=0), "run_as_user"),
        (BuildOptions(tmp_size="lots"), "tmp_size"),
        (BuildOptions(active_deadline_seconds=0), "active_deadline_seconds"),
        (BuildOptions(service_account="Not An Account"), "service_account"),
        (BuildOptions(pending_timeout="20 minutes"), "pending_timeout"),
        (BuildOptions(pending_timeout="0s"), "pending_timeout"),
        (BuildOptions(augment_memory_cap="lots"), "augment_memory_cap"),
        (BuildOptions(augment_memory_cap="2Gi"), "augment_memory_cap"),  # below the 4Gi limit
        (BuildOptions(instance="two words"), "instance"),
        (BuildOptions(instance=""), "instance"),
        (BuildOptions(part_of="x" * 64), "part_of"),
        (BuildOptions(retry_other_node="yes"), "retry_other_node"),  # type: ignore[arg-type]
        (BuildOptions(metrics=1), "metrics"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_option_is_refused_naming_it(options, field):
    problems = problems_of(options=options)
    assert [problem.split(":")[0] for problem in problems] == [field], problems
    assert "bad value" in problems[0]


@pytest.mark.parametrize(
    "expression, why",
    [
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 7", "day of week 7 is out of range 0-6"),
        ("0 0 * * MON-FOO", "day of week 'FOO' is not a number"),
        ("*/0 * * * *", "step '0'"),
        ("5-1 * * * *", "runs backwards"),
        ("0 2 * *", "expected 5 fields"),
        ("0 2 * * * *", "expected 5 fields"),
        ("@sometimes", "unknown descriptor"),
        ("@every soon", "@every needs a Go duration"),
        ("", "a cron expression"),
    ],
)
def test_a_schedule_that_is_not_cron_is_refused(expression, why):
    problems = problems_of(kind="cronworkflow", schedule=CronSchedule(schedules=[expression]))
    assert len(problems) == 1 and problems[0].startswith("schedules[0]: bad value") and why in problems[0], problems


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * * *",
        "*/15 9-17 * * MON-FRI",
        "0 0 1,15 JAN,jul *",
        "@daily",
        "@every 1h30m",
        "30 4 ? * 0",
    ],
)
def test_valid_cron_expressions_pass(expression):
    assert builder.build(SPEC, "cronworkflow", schedule=CronSchedule(schedules=[expression]))


def test_a_schedule_for_a_workflow_or_an_unknown_kind_is_refused():
    assert problems_of(kind="workflow", schedule=CronSchedule()) == [
        "schedule: only a cronworkflow has a schedule, not a workflow"
    ]
    assert problems_of(kind="cron") == [
        "kind: bad value 'cron': must be one of workflow, workflowtemplate, cronworkflow"
    ]


def test_argo_page_parameters_table_is_the_generated_one():
    text = (ROOT / "docs" / "argo.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- argo-params:begin -->\n(.*?)\n<!-- argo-params:end -->", text, re.S)
    assert match, "docs/argo.md lacks the <!-- argo-params:begin --> ... <!-- argo-params:end --> block"
    assert match.group(1) == argo_params.markdown(), (
        "regenerate with: python -c 'from kaleidoscope.workflows.argo import params; print(params.markdown())'"
    )


def test_parameters_table_lists_every_parameter():
    table = argo_params.markdown()
    for name in argo_params.NAMES:
        assert f"| `{name}` |" in table
    assert "`true`, `false`" in table


def test_building_leaves_the_options_untouched():
    options = copy.deepcopy(ALL_OPTIONS)
    build("cronworkflow", options)
    assert options == ALL_OPTIONS


# -- the templates against the step commands they run -------------------------------------------


def _substitute(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, text
    return text


def _run_pod(template: dict, values: dict[str, str], tmp: Path) -> dict[str, str]:
    """Run one container template as its pod would (its own /tmp), return its output parameters."""
    from kaleidoscope.workflows.cli import main

    # Paths first, then values: the pod's /tmp is its own emptyDir, here a folder per pod.
    args = [_substitute(arg.replace("/tmp/", f"{tmp}/"), values) for arg in template["container"]["args"]]
    assert template["container"]["command"] == ["kaleidoscope"]
    assert main(args) == 0
    outputs = {}
    for parameter in template.get("outputs", {}).get("parameters", []):
        outputs[parameter["name"]] = Path(parameter["valueFrom"]["path"].replace("/tmp/", f"{tmp}/")).read_text()
    return outputs


def test_the_rendered_steps_run_end_to_end_with_the_step_commands(photos, tmp_path):
    """Argo's part played by hand: inputs substituted, withParam expanded, outputs read from files."""
    manifest = build()
    steps = templates(manifest)
    destination = tmp_path / "augmented"
    values = {
        f"inputs.parameters.{name}": parameter.get("value", "") for name, parameter in parameters(manifest).items()
    }
    values.update(
        {
            "inputs.parameters.source": str(photos),
            "inputs.parameters.destination": str(destination),
            "inputs.parameters.run-id": "3f1b7c2e-uid-main",
        }
    )
    # The photos hold 2 undecodable files in 8: above the default failure limit of 10 %.
    spec_text = values["inputs.parameters.spec"]
    values["inputs.parameters.spec"] = spec_text + "\nlimits: {max_failed_fraction: 0.5}\n"

    shard_out = _run_pod(steps["shard"], values, tmp_path / "pod-shard")
    items = json.loads(shard_out["shards"])
    assert [item["index"] for item in items] == list(range(len(items))) and items[0]["of"] == len(items)
    results = []
    for item in items:  # withParam: one pod per item, inputs from {{item.*}}
        pod = {**values, "inputs.parameters.index": str(item["index"]), "inputs.parameters.of": str(item["of"])}
        results.append(json.loads(_run_pod(steps["augment"], pod, tmp_path / f"pod-augment-{item['index']}")["result"]))
    merged = _run_pod(steps["manifest"], values, tmp_path / "pod-manifest")

    assert set(merged) == {"inputs", "outputs", "failed", "manifest", "summary"}
    assert int(merged["outputs"]) == sum(result["outputs"] for result in results) > 0
    assert int(merged["inputs"]) == sum(item["images"] for item in items)
    parts = Path(merged["manifest"].removeprefix("file://"))
    assert parts.is_dir() and parts.is_relative_to(destination / "manifest")
    assert sum(len(part.read_text().splitlines()) for part in parts.rglob("*.jsonl")) == int(merged["outputs"])


# -- the operators' path: account, labels, failing fast, retrying wisely --------------------


@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_kind_names_the_service_account_that_rbac_yaml_creates(kind):
    # The workflow's and each pod template's: Kaleidoscope's pods run as it under another
    # workflow's spec too (a pipeline calling main by templateRef).
    for options, account in (
        (BuildOptions(), "kaleidoscope"),
        (BuildOptions(service_account="irsa-runner"), "irsa-runner"),
    ):
        manifest = build(kind, options)
        assert workflow_spec(manifest)["serviceAccountName"] == account
        assert {template["serviceAccountName"] for template in containers(manifest)} == {account}
        assert "serviceAccountName" not in templates(manifest)["main"]  # Argo reads a pod's template's only
    # None: the namespace's default account (which lacks the executor's permissions outside quick-start)
    unnamed = build(kind, BuildOptions(service_account=None))
    assert "serviceAccountName" not in workflow_spec(unnamed)
    assert all("serviceAccountName" not in template for template in containers(unnamed))


@pytest.mark.parametrize("kind", builder.KINDS)
def test_runs_and_pods_carry_name_instance_part_of_and_component(kind):
    manifest = build(kind)
    common = {
        "app.kubernetes.io/name": "kaleidoscope",
        "app.kubernetes.io/instance": "kaleidoscope",
        "app.kubernetes.io/part-of": "kaleidoscope",
    }
    # The object itself; every run (Argo copies workflowMetadata's labels onto it); every pod.
    assert manifest["metadata"]["labels"] == common
    assert workflow_spec(manifest)["workflowMetadata"]["labels"] == {
        **common,
        "app.kubernetes.io/component": "workflow",
    }
    for template in containers(manifest):
        assert template["metadata"]["labels"] == {**common, "app.kubernetes.io/component": template["name"]}
    named = build(kind, BuildOptions(name="nightly", part_of="vision"))
    assert named["metadata"]["labels"]["app.kubernetes.io/instance"] == "nightly"  # the name, by default
    released = build(kind, BuildOptions(instance="ml-prod", part_of="vision"))
    for template in containers(released):
        labels = template["metadata"]["labels"]
        assert (labels["app.kubernetes.io/instance"], labels["app.kubernetes.io/part-of"]) == ("ml-prod", "vision")


def test_every_pod_template_fails_a_pod_pending_too_long_and_only_pod_templates():
    manifest = build()
    for template in containers(manifest):
        assert template["pendingTimeout"] == "20m"  # longer than cluster-autoscaler's 15 min to add a node
    assert "pendingTimeout" not in templates(manifest)["main"]  # Argo refuses it on a DAG
    assert {t["pendingTimeout"] for t in containers(build(options=BuildOptions(pending_timeout="1h")))} == {"1h"}
    assert all("pendingTimeout" not in t for t in containers(build(options=BuildOptions(pending_timeout=None))))


def test_the_hera_object_lacks_pending_timeout_and_manifest_adds_it():
    # Hera 7.1's Template model has no pendingTimeout (Argo 4.1): builder.manifest adds it, and the
    # same manifest is what render prints and submit posts.
    built = builder.build(SPEC)
    assert "pendingTimeout" not in json.dumps(built.to_dict())
    assert all(template["pendingTimeout"] == "20m" for template in containers(builder.manifest(built)))


def test_retries_avoid_the_nodes_a_step_failed_on():
    for template in containers(build()):
        assert template["retryStrategy"]["affinity"] == {"nodeAntiAffinity": {}}
    for template in containers(build(options=BuildOptions(retry_other_node=False))):
        assert "affinity" not in template["retryStrategy"]


def _memory_for(expression: str, retries: int) -> str:
    """What Argo's expression tag gives for an attempt: ``{{=asInt(retries) < N ? [...][asInt(retries)] : 'X'}}``."""
    match = re.fullmatch(
        r"\{\{=asInt\(retries\) < (\d+) \? \[([^\]]*)\]\[asInt\(retries\)\] : '([^']+)'\}\}", expression
    )
    assert match, expression
    sizes = [size.strip("'") for size in match.group(2).split(",")]
    assert len(sizes) == int(match.group(1))
    return sizes[retries] if retries < int(match.group(1)) else match.group(3)


def test_a_retried_augment_pod_gets_twice_the_memory_up_to_the_cap():
    steps = templates(build())
    assert all("podSpecPatch" not in steps[name] for name in ("shard", "manifest"))
    patch = json.loads(steps["augment"]["podSpecPatch"])
    [container] = patch["containers"]
    assert container["name"] == "main"  # Argo's name for the main container in the pod
    limits, requests = container["resources"]["limits"]["memory"], container["resources"]["requests"]["memory"]
    # Attempt 0 keeps the template's own resources (limit 4Gi, request 2Gi); each retry doubles both, to 16Gi.
    assert [_memory_for(limits, n) for n in range(6)] == ["4Gi", "8Gi", "16Gi", "16Gi", "16Gi", "16Gi"]
    assert [_memory_for(requests, n) for n in range(6)] == ["2Gi", "4Gi", "8Gi", "16Gi", "16Gi", "16Gi"]
    resources = steps["augment"]["container"]["resources"]
    assert (resources["limits"]["memory"], resources["requests"]["memory"]) == ("4Gi", "2Gi")
    capped = templates(build(options=BuildOptions(augment_memory_cap="10Gi")))["augment"]["podSpecPatch"]
    assert [_memory_for(json.loads(capped)["containers"][0]["resources"]["limits"]["memory"], n) for n in range(4)] == [
        "4Gi",
        "8Gi",
        "10Gi",
        "10Gi",
    ]
    for options in (
        BuildOptions(augment_memory_cap=None),
        BuildOptions(augment_memory_cap="4Gi"),  # the limit already: nothing grows
        BuildOptions(retries=0),  # no retry, no {{retries}}
        BuildOptions(resources={"augment": Resources(cpu_request="2", memory_request="2Gi")}),  # no limit to outgrow
    ):
        assert "podSpecPatch" not in templates(build(options=options))["augment"], options


def test_the_memory_patch_passes_the_schema_and_the_lint_and_argo_resolves_retries_in_it():
    manifest = build()
    assert_valid(manifest)
    assert lint(manifest) == []
    # An expression tag over {{retries}}, which Argo sets for a template with a retryStrategy.
    assert "retryStrategy" in templates(manifest)["augment"]
    assert "{{=asInt(retries)" in templates(manifest)["augment"]["podSpecPatch"]


# -- metrics ----------------------------------------------------------------------------------

#: Prometheus' own rules, written out here rather than imported: a metric name, a label name.
PROMETHEUS_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
PROMETHEUS_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def metrics_of(manifest: dict) -> list[tuple[str, dict]]:
    spec = workflow_spec(manifest)
    found = [("workflow", metric) for metric in spec.get("metrics", {}).get("prometheus", [])]
    for template in spec["templates"]:
        found += [(template["name"], metric) for metric in template.get("metrics", {}).get("prometheus", [])]
    return found


@pytest.mark.parametrize("kind", builder.KINDS)
def test_metrics_are_named_by_prometheus_rules_and_tell_releases_apart(kind):
    found = metrics_of(build(kind))
    emitted = {(where, metric["name"]) for where, metric in found}
    assert {
        ("workflow", "kaleidoscope_run_duration_seconds"),
        ("workflow", "kaleidoscope_runs_total"),
        ("manifest", "kaleidoscope_images_in_total"),
        ("manifest", "kaleidoscope_images_written_total"),
        ("manifest", "kaleidoscope_images_failed_total"),
    } <= emitted
    assert {where for where, name in emitted if name == "kaleidoscope_step_duration_seconds"} == {
        "shard",
        "augment",
        "manifest",
    }
    for where, metric in found:
        name = metric["name"]
        assert PROMETHEUS_METRIC.match(name) and ":" not in name, name  # Argo also refuses ':'
        assert PROMETHEUS_METRIC.match(argo_metrics.PREFIX + name)
        assert name.startswith("kaleidoscope_")
        kind_of = next(k for k in ("counter", "gauge", "histogram") if k in metric)
        assert not (kind_of == "counter") ^ name.endswith("_total"), name  # Prometheus' naming convention
        labels = {label["key"]: label["value"] for label in metric["labels"]}
        assert all(PROMETHEUS_LABEL.match(key) and not key.startswith("__") for key in labels)
        assert "instance" not in labels and "job" not in labels  # Prometheus' own target labels
        assert labels["namespace"] == "{{workflow.namespace}}" and labels["release"] == "kaleidoscope"
        if where != "workflow":
            assert labels["step"] == where
        assert metric["help"] and "{{" not in metric["help"]  # one fixed help per name, controller-wide
    others = metrics_of(build(kind, BuildOptions(instance="ml-prod")))
    assert {label["value"] for _, metric in others for label in metric["labels"] if label["key"] == "release"} == {
        "ml-prod"
    }
    assert [metric["help"] for _, metric in others] == [metric["help"] for _, metric in found]


@pytest.mark.parametrize("kind", builder.KINDS)
def test_every_variable_a_metric_uses_resolves(kind):
    manifest = build(kind)
    assert lint(manifest) == []  # the lint checks metrics' names, labels and variables
    variables = {
        tag for _, metric in metrics_of(manifest) for tag in re.findall(r"\{\{([^}]*)\}\}", json.dumps(metric))
    }
    assert variables == {
        "workflow.namespace",
        "workflow.status",
        "workflow.duration",
        "duration",
        "status",
        "outputs.parameters.inputs",
        "outputs.parameters.outputs",
        "outputs.parameters.failed",
    }
    # The counts are the manifest step's own declared outputs, emitted only when it succeeded.
    declared = {p["name"] for p in templates(manifest)["manifest"]["outputs"]["parameters"]}
    assert {"inputs", "outputs", "failed"} <= declared
    wrong = copy.deepcopy(manifest)
    counts = next(m for where, m in metrics_of(wrong) if m["name"] == "kaleidoscope_images_written_total")
    counts["counter"]["value"] = "{{outputs.parameters.written}}"
    [problem] = lint(wrong)
    assert (
        "{{outputs.parameters.written}} does not resolve: the emitting node has no outputs.parameters.written"
        in problem
    )


def test_metrics_can_be_turned_off():
    assert metrics_of(build(options=BuildOptions(metrics=False))) == []


def test_argo_page_metrics_table_is_the_generated_one():
    text = (ROOT / "docs" / "argo.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- argo-metrics:begin -->\n(.*?)\n<!-- argo-metrics:end -->", text, re.S)
    assert match, "docs/argo.md lacks the <!-- argo-metrics:begin --> ... <!-- argo-metrics:end --> block"
    assert match.group(1) == argo_metrics.markdown(), (
        "regenerate with: python -c 'from kaleidoscope.workflows.argo import metrics; print(metrics.markdown())'"
    )
    for metric in argo_metrics.METRICS:
        assert argo_metrics.PREFIX + metric.name in metric.query


# -- cron: time zones, and how long runs are kept ----------------------------------------------


@pytest.mark.parametrize("expression", ["CRON_TZ=Asia/Tokyo 0 9 * * *", "TZ=UTC @daily", "  CRON_TZ=UTC 0 2 * * *"])
def test_a_schedule_with_its_own_time_zone_is_refused_pointing_at_timezone(expression):
    # Argo prefixes every schedule with CRON_TZ=<timezone>; a second prefix makes it unparsable.
    problems = problems_of(kind="cronworkflow", schedule=CronSchedule(schedules=[expression]))
    assert len(problems) == 1 and problems[0].startswith(f"schedules[0]: bad value {json.dumps(expression)}")
    assert "set `timezone` to" in problems[0]


def test_a_cron_workflows_runs_are_kept_by_its_history_limits_not_by_a_ttl():
    # Argo's cron controller deletes a CronWorkflow's oldest runs beyond successfulJobsHistoryLimit
    # and failedJobsHistoryLimit (workflow/cron/operator.go, enforceHistoryLimit); a ttlStrategy
    # deletes each run on its own clock. With both, a TTL shorter than limit x period wins and the
    # limits never count: so a CronWorkflow's runs have no TTL, and other runs keep theirs.
    cron = build("cronworkflow")
    assert "ttlStrategy" not in workflow_spec(cron) and "ttlStrategy" not in cron["spec"]
    assert cron["spec"]["successfulJobsHistoryLimit"] >= 1 and cron["spec"]["failedJobsHistoryLimit"] >= 1
    limited = build(
        "cronworkflow", schedule=CronSchedule(successful_jobs_history_limit=10, failed_jobs_history_limit=2)
    )
    assert (limited["spec"]["successfulJobsHistoryLimit"], limited["spec"]["failedJobsHistoryLimit"]) == (10, 2)
    for kind in ("workflow", "workflowtemplate"):
        assert workflow_spec(build(kind))["ttlStrategy"] == {
            "secondsAfterSuccess": 86400,
            "secondsAfterFailure": 604800,
        }
