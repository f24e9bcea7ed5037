"""The Helm chart: written by hand, rendered by real Helm, equal to the builder's render, valid for
Argo and Kubernetes.

Helm itself renders the chart here (helm-python-sdk binds Helm's Go library: no helm binary, no
cluster). Each ``ci/`` scenario is checked against Argo's strict schema, the Kubernetes schema,
``helm lint``, and the builder's own render for the same settings (the chart's hand-written
WorkflowTemplate must equal it; its CronWorkflow, which refers to that WorkflowTemplate, must run
what the builder's self-contained CronWorkflow runs). Bad values must be refused by Helm's schema
check, as ``helm install`` would refuse them, naming the value.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from hera.workflows import Resources
from hera.workflows.models import Toleration

from tests.conftest import GOOD_IMAGES, read_records
from tests.golden import assert_generated
from tests.prerequisites import require_module

helm = require_module("helm_python", "helm-python-sdk is not installed: pip install -e '.[test]'")
kubernetes_validate = require_module(
    "kubernetes_validate", "kubernetes-validate is not installed: pip install -e '.[test]'"
)

from kaleidoscope.workflows import builder, cli
from kaleidoscope.workflows.argo import rbac
from kaleidoscope.workflows.argo.cron import cron_problems
from kaleidoscope.workflows.argo.options import DEFAULT_IMAGE, BuildOptions, CronSchedule
from kaleidoscope.workflows.argo.templates import memory_patch
from kaleidoscope.workflows.executor import execute, load
from kaleidoscope.workflows.executor.merge import join
from kaleidoscope.workflows.lint import lint
from tests.argo_schema import assert_valid
from tools import argo_golden, chart

CHART = chart.CHART
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE, NAMESPACE = "kaleidoscope", "argo"
ARGO_KINDS = ("WorkflowTemplate", "CronWorkflow")
#: The oldest Kubernetes the chart is checked against (Chart.yaml's kubeVersion), and the newest
#: kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
GENERIC_TITLE = "Kaleidoscope: image-dataset augmentation"
#: What an enabled CronWorkflow needs: the locations it runs with (the values schema requires them).
CRON = {"cronWorkflow": {"enabled": True}, "workflow": {"source": "s3://b/in", "destination": "s3://b/out"}}
#: Credentials for the chart's default Secret, for runs on this machine (local paths need none).
SECRETS = {"kaleidoscope-s3": {"accessKeyId": "unused-locally", "secretAccessKey": "unused-locally"}}


@functools.cache
def metadata() -> dict:
    return yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))


@functools.cache
def loaded() -> helm.Chart:
    return helm.Chart.load(CHART)


def standard_labels(release: str = RELEASE, part_of: str | None = None) -> dict:
    """The labels the chart's helper gives every object (the builder's object labels among them)."""
    return {
        "helm.sh/chart": f"kaleidoscope-{metadata()['version']}",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/part-of": part_of or release,
        "app.kubernetes.io/version": metadata()["appVersion"],
        "app.kubernetes.io/managed-by": "Helm",
    }


def render(values: dict | None = None, release: str = RELEASE, namespace: str = NAMESPACE) -> list[dict]:
    """Every object the chart installs with ``values``, as Helm renders it."""
    manifests = loaded().render(values or {}, name=release, namespace=namespace)
    documents = []
    for path, text in sorted(manifests.items()):
        if not path.endswith("NOTES.txt"):
            documents += [document for document in yaml.safe_load_all(text) if document]
    return documents


def notes(values: dict | None = None) -> str:
    manifests = loaded().render(values or {}, name=RELEASE, namespace=NAMESPACE)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def of_kind(documents: list[dict], kind: str) -> list[dict]:
    return [document for document in documents if document["kind"] == kind]


def one(documents: list[dict], kind: str) -> dict:
    found = of_kind(documents, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def workflow_spec(document: dict) -> dict:
    return document["spec"]["workflowSpec"] if document["kind"] == "CronWorkflow" else document["spec"]


def pod_templates(document: dict) -> list[dict]:
    return [template for template in workflow_spec(document)["templates"] if "container" in template]


def containers(document: dict) -> list[dict]:
    return [template["container"] for template in pod_templates(document)]


def parameter(document: dict, name: str) -> str:
    return next(p["value"] for p in workflow_spec(document)["arguments"]["parameters"] if p["name"] == name)


def as_yaml(document: dict) -> str:
    """For readable diffs when two objects differ."""
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=2**31 - 1)


def load_scenario(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


# -- the oracle: what the builder is given for the same settings --------------------------------


@dataclasses.dataclass
class Settings:
    spec: str
    template_options: BuildOptions
    cron_options: BuildOptions
    schedule: CronSchedule
    merged: dict


#: The resource names Hera's Resources has fields for; any other goes in as a custom resource.
_HERA_FIELDS = {"cpu": "cpu", "memory": "memory", "ephemeral-storage": "ephemeral"}


def _resources(values: dict) -> Resources:
    """A step's values as the builder's Resources: every quantity as text, as the values' docs say
    (a number as Python's str() writes it: Helm hands numbers over as JSON)."""
    fields: dict = {}
    custom: dict = {}
    for group, suffix in (("requests", "request"), ("limits", "limit")):
        for name, amount in (values.get(group) or {}).items():
            if amount is None:
                continue
            if name in _HERA_FIELDS:
                fields[f"{_HERA_FIELDS[name]}_{suffix}"] = str(amount)
            else:
                custom.setdefault(group, {})[name] = str(amount)
    return Resources(**fields, custom_resources=custom or None)


def builder_settings(
    values: dict, documents: list[dict], release: str = RELEASE, namespace: str = NAMESPACE
) -> Settings:
    """The builder's options for chart values, written from the values' documentation, not from
    the chart's templates (so a wrong Helm expression shows as a difference)."""
    merged = loaded().merge_values(values)
    assert not merged["nameOverride"], "the builder's labels name the app 'kaleidoscope'"
    name = merged["fullnameOverride"] or (release if "kaleidoscope" in release else f"{release}-kaleidoscope")
    account = merged["serviceAccount"]
    s3, work, image = merged["s3"], merged["workflow"], merged["image"]
    spec = merged["spec"]
    if not isinstance(spec, str):  # a mapping: the chart writes it as YAML; the ConfigMap shows how
        text = one(documents, "ConfigMap")["data"]["spec"]
        assert yaml.safe_load(text) == spec
        spec = text
    options = BuildOptions(
        name=name,
        namespace=namespace,
        image=f"{image['repository']}:{image['tag'] or metadata()['appVersion']}",
        image_pull_policy=image["pullPolicy"] or None,
        service_account=account["name"] or (name if account["create"] else None),
        s3_secret={"existingSecret": s3["existingSecret"], "secret": f"{name}-s3", "none": None}[s3["credentials"]],
        s3_endpoint=s3["endpoint"],
        source=work["source"],
        destination=work["destination"],
        mutex=work["mutex"],
        mutex_database=work["mutexDatabase"],
        incremental=work["incremental"],
        parallelism=work["parallelism"],
        retries=work["retries"],
        retry_backoff=work["retryBackoff"],
        active_deadline_seconds=work["activeDeadlineSeconds"],
        ttl_seconds_after_success=work["ttlSecondsAfterSuccess"],
        ttl_seconds_after_failure=work["ttlSecondsAfterFailure"],
        pod_gc=work["podGC"],
        resources={step: _resources(value) for step, value in merged["resources"].items()},
        threads=work["threads"] or None,
        node_selector=merged["nodeSelector"],
        tolerations=tuple(
            Toleration(
                key=t.get("key"),
                operator=t.get("operator"),
                value=t.get("value"),
                effect=t.get("effect"),
                toleration_seconds=t.get("tolerationSeconds"),
            )
            for t in merged["tolerations"]
        ),
        run_as_user=work["runAsUser"],
        tmp_size=work["tmpSize"],
        instance=release,
        part_of=work["partOf"] or release,
        pending_timeout=work["pendingTimeout"] or None,
        retry_other_node=work["retryOnOtherNode"],
        augment_memory_cap=work["augmentMemoryCap"] or None,
        metrics=work["metrics"],
    )
    cron = merged["cronWorkflow"]
    schedule = CronSchedule(
        schedules=tuple(cron["schedules"]),
        timezone=cron["timezone"],
        concurrency_policy=cron["concurrencyPolicy"],
        starting_deadline_seconds=cron["startingDeadlineSeconds"],
        successful_jobs_history_limit=cron["successfulJobsHistoryLimit"],
        failed_jobs_history_limit=cron["failedJobsHistoryLimit"],
    )
    return Settings(spec, options, dataclasses.replace(options, incremental=cron["incremental"]), schedule, merged)


def chart_additions(made: dict, merged: dict) -> dict:
    """The builder's object with what only the chart's values set, as the values' docs say: the
    standard and common labels of the object; the pull secrets of the run; each pod template's
    annotations, extra labels, affinity and priority class. (The builder has no options for these:
    each is a chart value alone.)"""
    made["metadata"]["labels"] = {
        **made["metadata"]["labels"],
        **standard_labels(RELEASE, made["metadata"]["labels"]["app.kubernetes.io/part-of"]),
        **merged["commonLabels"],
    }
    spec = workflow_spec(made)
    if merged["imagePullSecrets"]:
        spec["imagePullSecrets"] = copy.deepcopy(merged["imagePullSecrets"])
    for template in pod_templates(made):
        if merged["podAnnotations"]:
            template["metadata"]["annotations"] = dict(merged["podAnnotations"])
        template["metadata"]["labels"] = {**template["metadata"]["labels"], **merged["podLabels"]}
        if merged["affinity"]:
            template["affinity"] = copy.deepcopy(merged["affinity"])
        if merged["priorityClassName"]:
            template["priorityClassName"] = merged["priorityClassName"]
    return made


def _words(made: dict, settings: Settings) -> dict:
    """The builder's object with the title and description the chart gives it: the builder's when
    the spec is the default one (the chart holds its words) and values set none, else the values'
    or a generic text (a run's words add the builder's run sentence to them)."""
    plain = dataclasses.replace(settings.template_options, incremental=False)
    words = builder.manifest(builder.workflow_template(settings.spec, plain))["metadata"]["annotations"]
    description = made["metadata"]["annotations"][builder.DESCRIPTION]
    assert description.startswith(words[builder.DESCRIPTION])
    tail = description[len(words[builder.DESCRIPTION]) :]  # the schedule and incremental sentences
    work = settings.merged["workflow"]
    as_default = settings.spec == argo_golden.EXAMPLE_SPEC  # the builder's words name no location
    generic = (
        "Augments every image under `source` into `destination` as the `spec` parameter says (by default the "
        f"spec in the ConfigMap {settings.template_options.name}-spec). Publishes the manifest (manifest/*/*/*.jsonl) and summary.json; "
        "the manifest step's outputs give the counts and their URLs."
    )
    annotations = {
        builder.TITLE: work["title"] or (words[builder.TITLE] if as_default else GENERIC_TITLE),
        builder.DESCRIPTION: (work["description"] or (words[builder.DESCRIPTION] if as_default else generic)) + tail,
    }
    made["metadata"]["annotations"] = annotations
    workflow_spec(made)["workflowMetadata"]["annotations"] = {
        builder.TITLE: annotations[builder.TITLE] + builder.RUN_TITLE,
        builder.DESCRIPTION: annotations[builder.DESCRIPTION] + builder.RUN_DESCRIPTION,
    }
    return made


def builder_render(kind: str, settings: Settings) -> dict:
    """The builder's object for the settings, with what the chart adds or words differently made
    explicit (:func:`chart_additions`, :func:`_words`). The CronWorkflow is the builder's own,
    self-contained one: compare it with :func:`effective_cron`."""
    if kind == "WorkflowTemplate":
        made = builder.manifest(builder.workflow_template(settings.spec, settings.template_options))
    else:
        made = builder.manifest(builder.cron_workflow(settings.spec, settings.cron_options, settings.schedule))
    return chart_additions(_words(made, settings), settings.merged)


def effective_cron(cron: dict, template: dict) -> dict:
    """The chart's CronWorkflow with the workflow spec its runs run: its own joined with the
    WorkflowTemplate's (the local executor's Argo JoinWorkflowSpec), the reference dropped, and the
    TTL Argo applies (``Workflow.GetTTLStrategy``: the run's own ``ttlStrategy`` whole when it has
    one, else the template's; an empty one is no TTL)."""
    own = cron["spec"]["workflowSpec"]
    assert own["workflowTemplateRef"] == {"name": template["metadata"]["name"]}
    joined = join(own, template["spec"])
    del joined["workflowTemplateRef"]
    if "ttlStrategy" in own:
        joined["ttlStrategy"] = own["ttlStrategy"]
    if joined.get("ttlStrategy") == {}:
        del joined["ttlStrategy"]
    effective = copy.deepcopy(cron)
    effective["spec"]["workflowSpec"] = joined
    return effective


def parameters_by_name(document: dict) -> dict[str, str | None]:
    return {p["name"]: p.get("value") for p in workflow_spec(document)["arguments"]["parameters"]}


def without_global_outputs(cron: dict) -> dict:
    """The builder's CronWorkflow without the one thing it has and a run of the WorkflowTemplate
    has not: the manifest step's outputs lifted to the workflow's outputs (``globalName``). The
    builder lifts them only where ``main`` runs once per workflow, never in a WorkflowTemplate, whose
    ``main`` two tasks of one workflow may call; the chart's CronWorkflow runs the WorkflowTemplate,
    so its runs give them as ``main``'s outputs, as every run of the WorkflowTemplate does."""
    cron = copy.deepcopy(cron)
    manifest = next(t for t in workflow_spec(cron)["templates"] if t["name"] == "manifest")
    lifted = {p["name"]: p.pop("globalName", None) for p in manifest["outputs"]["parameters"]}
    assert lifted == {name: name for name in ("inputs", "outputs", "failed", "manifest", "summary")}
    return cron


def assert_cron_runs_the_builders(cron: dict, template: dict, expected: dict) -> None:
    """The chart's CronWorkflow, joined with its WorkflowTemplate, is the builder's CronWorkflow:
    the same object, schedule and templates, the same parameter values; but for the workflow
    outputs (:func:`without_global_outputs`). Argo takes a parameter the run gives whole, so those
    the cron gives carry no description (the template's keep theirs)."""
    effective = effective_cron(cron, template)
    expected = without_global_outputs(expected)
    given = {p["name"] for p in cron["spec"]["workflowSpec"]["arguments"]["parameters"]}
    assert given == {"source", "destination", "incremental"}
    assert parameters_by_name(effective) == parameters_by_name(expected)
    for document in (effective, expected):
        kept = workflow_spec(document)["arguments"]["parameters"]
        workflow_spec(document)["arguments"]["parameters"] = [p for p in kept if p["name"] not in given]
    assert as_yaml(effective) == as_yaml(expected)


# -- generated files -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", chart.GENERATED)
def test_generated_file_equals_what_the_generator_makes_from_values_yaml_today(path):
    assert_generated(
        CHART / path,
        chart.generate()[path],
        "tools/chart.py",
        "`.venv/bin/python -m tools.chart` (or KALEIDOSCOPE_REGENERATE=1 pytest tests/test_chart.py)",
    )


def test_chart_command_reports_the_committed_chart_up_to_date(capsys):
    assert chart.main(["--check"]) == 0, capsys.readouterr().err


def test_the_chart_command_names_a_value_without_comment(monkeypatch, tmp_path, capsys):
    values = tmp_path / "values.yaml"
    values.write_text(chart.VALUES.read_text(encoding="utf-8").replace("  # -- Most pods of one run at once.\n", ""))
    monkeypatch.setattr(chart, "VALUES", values)
    assert chart.main(["--check"]) == 2
    assert "workflow.parallelism: no '# --' comment" in capsys.readouterr().err


def test_only_the_schema_and_the_values_table_are_generated():
    # The templates are Helm written by hand: nothing converts the builder's YAML into them.
    assert chart.GENERATED == ("values.schema.json", "README.md")
    for path in (CHART / "templates").iterdir():
        assert "Generated by" not in path.read_text(encoding="utf-8"), path.name
    assert not (CHART / "templates" / "_builder.tpl").exists()


# -- the hand-written WorkflowTemplate is the builder's render ---------------------------------


def test_templates_escape_every_argo_expression_for_helm():
    # Helm would evaluate a bare {{workflow.uid}} as its own template and fail (or print nothing).
    rendered = one(render(), "WorkflowTemplate")
    made = builder.manifest(builder.workflow_template(argo_golden.EXAMPLE_SPEC))
    expressions = set(re.findall(r"\{\{[^}]*\}\}", json.dumps(made)))
    assert "{{workflow.uid}}" in expressions and len(expressions) > 5
    assert set(re.findall(r"\{\{[^}]*\}\}", json.dumps(rendered))) == expressions


def test_chart_defaults_render_exactly_the_builders_workflowtemplate():
    # GIVEN the chart's default values; the same settings for the builder: the release's
    # namespace and the ServiceAccount the chart creates, everything else the builder's default
    documents = render()
    options = BuildOptions(namespace=NAMESPACE, service_account=RELEASE, instance=RELEASE, part_of=RELEASE)
    made = builder.manifest(builder.workflow_template(argo_golden.EXAMPLE_SPEC, options))
    rendered = one(documents, "WorkflowTemplate")
    # THEN the only difference is the standard labels the chart's helper adds
    assert rendered["metadata"].pop("labels") == {**made["metadata"].pop("labels"), **standard_labels()}
    assert as_yaml(rendered) == as_yaml(made)
    assert of_kind(documents, "CronWorkflow") == []


def test_the_charts_retries_skip_exactly_the_exit_codes_no_retry_can_change():
    # The chart spells the expression by hand: it must be the one steps/errors.py's table gives
    # the builder, so a new permanent exit code cannot be retried by one and not the other.
    from kaleidoscope.steps.errors import NOT_RETRIED
    from kaleidoscope.workflows.argo.templates import RETRY_UNLESS_FINAL

    templates = one(render(), "WorkflowTemplate")["spec"]["templates"]
    strategies = [t["retryStrategy"] for t in templates if "retryStrategy" in t]
    assert len(strategies) == 3  # shard, augment, manifest
    assert {strategy["expression"] for strategy in strategies} == {RETRY_UNLESS_FINAL}
    assert sorted(int(code) for code in re.findall(r"!= (\d+)", RETRY_UNLESS_FINAL)) == sorted(NOT_RETRIED)


def test_the_default_specs_words_are_the_builders_for_exactly_that_spec():
    # _helpers.tpl holds the builder's title and description of values.yaml's spec, by hand, shown
    # only while the spec's sha256 is the one written beside them.
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    written = re.search(r'define "kaleidoscope.defaultSpec.sha256" -}}\n([0-9a-f]{64})\n', helpers)
    assert written and written.group(1) == hashlib.sha256(argo_golden.EXAMPLE_SPEC.encode()).hexdigest()
    made = builder.manifest(builder.workflow_template(argo_golden.EXAMPLE_SPEC))
    assert one(render(), "WorkflowTemplate")["metadata"]["annotations"] == made["metadata"]["annotations"]


# -- the CronWorkflow refers to the WorkflowTemplate and runs what the builder's runs -----------


def test_the_cron_refers_to_the_workflowtemplate_and_holds_no_template_of_its_own():
    documents = render(CRON)
    cron, template = one(documents, "CronWorkflow"), one(documents, "WorkflowTemplate")
    own = cron["spec"]["workflowSpec"]
    assert own["workflowTemplateRef"] == {"name": template["metadata"]["name"]}
    assert "templates" not in own and "entrypoint" not in own
    # the scheduled runs' own TTL, empty, replaces the template's: its history limits keep them
    assert own["ttlStrategy"] == {} and "ttlStrategy" in template["spec"]


def test_chart_with_cron_enabled_runs_exactly_the_builders_cronworkflow():
    documents = render(CRON)
    options = BuildOptions(
        namespace=NAMESPACE,
        service_account=RELEASE,
        instance=RELEASE,
        part_of=RELEASE,
        source="s3://b/in",
        destination="s3://b/out",
    )
    made = builder.manifest(builder.cron_workflow(argo_golden.EXAMPLE_SPEC, options, CronSchedule()))
    # the builder's stays self-contained, for `argo cron create` alone
    assert "workflowTemplateRef" not in made["spec"]["workflowSpec"] and made["spec"]["workflowSpec"]["templates"]
    made["metadata"]["labels"] = {**made["metadata"]["labels"], **standard_labels()}
    cron, template = one(documents, "CronWorkflow"), one(documents, "WorkflowTemplate")
    assert_cron_runs_the_builders(cron, template, made)
    assert parameter(cron, "incremental") == "true"
    assert parameter(template, "incremental") == "false"


def test_the_cron_resolves_to_exactly_the_workflowtemplates_templates_with_the_local_executor():
    documents = render(CRON)
    cron, template = one(documents, "CronWorkflow"), one(documents, "WorkflowTemplate")
    resolved = load(cron, templates=[template])
    assert resolved["spec"]["templates"] == template["spec"]["templates"]
    assert resolved["metadata"]["labels"]["workflows.argoproj.io/workflow-template"] == template["metadata"]["name"]
    assert parameters_by_name(resolved) == {
        **parameters_by_name(template),
        "source": "s3://b/in",
        "destination": "s3://b/out",
        "incremental": "true",
    }


def test_a_scheduled_run_runs_the_same_nodes_as_a_run_of_the_workflowtemplate(spec_document, tmp_path, monkeypatch):
    # GIVEN the chart's CronWorkflow and WorkflowTemplate, and a small spec over local folders
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    documents = render(CRON)
    cron, template = one(documents, "CronWorkflow"), one(documents, "WorkflowTemplate")

    def run(manifest: dict, name: str):
        document = {**spec_document, "destination": str(tmp_path / name)}
        given = {"spec": json.dumps(document), "source": document["source"], "destination": document["destination"]}
        result = execute(manifest, given, templates=[template], secrets=SECRETS, show_progress=False)
        assert result.phase == "Succeeded", result.message
        assert len(read_records(document["destination"])) == GOOD_IMAGES * 2 ** len(document["transforms"])
        # the root is named after the run (random); every other node after its task or step
        return sorted(
            (node.type, node.template or "", node.parent and node.display_name, node.phase) for node in result.nodes
        )

    # WHEN the cron's workflow runs (once, now) and the WorkflowTemplate runs as `argo submit --from`
    # THEN both ran the same templates, node for node
    by_cron = run(cron, "by-cron")
    assert by_cron == run(template, "by-template")
    assert {template for _, template, _, _ in by_cron} >= {"main", "shard", "augment", "manifest"}


def test_values_defaults_are_the_builders_defaults():
    settings = builder_settings({}, render())
    options, default = settings.template_options, BuildOptions()
    # The settings the chart decides: its release's namespace, its own ServiceAccount, and the
    # release as the instance and part-of labels.
    assert (options.namespace, options.service_account) == (NAMESPACE, RELEASE)
    assert (options.instance, options.part_of) == (RELEASE, RELEASE)
    assert options.image == DEFAULT_IMAGE
    assert settings.spec == argo_golden.EXAMPLE_SPEC
    assert settings.schedule == CronSchedule()
    for field in dataclasses.fields(BuildOptions):
        if field.name in ("namespace", "service_account", "resources", "incremental", "instance", "part_of"):
            continue
        assert getattr(options, field.name) == getattr(default, field.name), field.name
    for step in ("shard", "augment", "manifest"):
        assert options.resources_for(step) == default.resources_for(step), step
    # The builder's None means false for a WorkflowTemplate and true for a CronWorkflow.
    assert (options.incremental, settings.cron_options.incremental) == (False, True)
    # and what only the chart sets is off by default
    merged = settings.merged
    assert (merged["imagePullSecrets"], merged["affinity"], merged["priorityClassName"]) == ([], {}, "")
    assert (merged["commonLabels"], merged["podLabels"], merged["podAnnotations"], merged["global"]) == ({},) * 4


# -- every ci/ scenario ------------------------------------------------------------------------


@pytest.fixture(params=SCENARIOS, ids=[path.name for path in SCENARIOS])
def scenario(request) -> tuple[dict, list[dict]]:
    values = load_scenario(request.param)
    return values, render(values)


def test_the_ci_scenarios_cover_what_the_chart_must_support():
    names = {path.name for path in SCENARIOS}
    assert {
        "defaults-values.yaml",
        "minio-existing-secret-values.yaml",
        "irsa-values.yaml",
        "cron-values.yaml",
        "gpu-values.yaml",
        "private-registry-values.yaml",
    } <= names
    merged = [loaded().merge_values(load_scenario(path)) for path in SCENARIOS]
    assert {values["s3"]["credentials"] for values in merged} == {"existingSecret", "secret", "none"}
    # every value beyond the builder's options is set by some scenario
    for key in ("imagePullSecrets", "affinity", "priorityClassName", "commonLabels", "podLabels", "podAnnotations"):
        assert any(values[key] for values in merged), key
    assert any("nvidia.com/gpu" in values["resources"]["augment"]["limits"] for values in merged)
    assert any(values["global"] for values in merged)


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.name for path in SCENARIOS])
def test_scenario_opens_with_a_comment_saying_what_it_tests(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# Tests "), f"{path.name} should open with '# Tests ...', not {first!r}"


def argo_objects(documents: list[dict]) -> list[dict]:
    argo = [document for document in documents if document["kind"] in ARGO_KINDS]
    assert argo, "no Argo object rendered"
    return argo


# Its own test: without ../shared/argo it skips (or fails under CI) and the lint below still runs.
def test_scenario_argo_objects_pass_argos_strict_schema(scenario):
    _values, documents = scenario
    for document in argo_objects(documents):
        assert_valid(document)


def test_scenario_argo_objects_lint_clean(scenario):
    _values, documents = scenario
    for document in argo_objects(documents):
        assert lint(document) == [], document["kind"]


def test_scenario_kubernetes_objects_pass_the_kubernetes_schema(scenario):
    _values, documents = scenario
    core = [document for document in documents if document["kind"] not in ARGO_KINDS]
    assert {"ConfigMap", "Role", "RoleBinding"} <= {document["kind"] for document in core}
    for document in core:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                pytest.fail(
                    f"{document['kind']}/{document['metadata']['name']} (Kubernetes {version}): {where}: {error.message}"
                )


def test_scenario_argo_objects_equal_the_builders_render_for_the_same_settings(scenario):
    values, documents = scenario
    settings = builder_settings(values, documents)
    template = one(documents, "WorkflowTemplate")
    assert as_yaml(template) == as_yaml(builder_render("WorkflowTemplate", settings))
    enabled = settings.merged["cronWorkflow"]["enabled"]
    assert len(of_kind(documents, "CronWorkflow")) == (1 if enabled else 0)
    if enabled:
        assert_cron_runs_the_builders(
            one(documents, "CronWorkflow"), template, builder_render("CronWorkflow", settings)
        )


def test_scenario_every_object_carries_the_standard_and_common_labels(scenario):
    values, documents = scenario
    merged = loaded().merge_values(values)
    part_of = merged["workflow"]["partOf"] or RELEASE
    for document in documents:
        labels = document["metadata"]["labels"]
        expected = {**standard_labels(RELEASE, part_of), **merged["commonLabels"]}
        assert {key: labels.get(key) for key in expected} == expected, document["kind"]


def test_scenario_spec_parameter_defaults_to_exactly_the_configmaps_spec(scenario):
    values, documents = scenario
    configmap = one(documents, "ConfigMap")
    text = configmap["data"]["spec"]
    assert configmap["metadata"]["labels"]["workflows.argoproj.io/configmap-type"] == "Parameter"
    spec = loaded().merge_values(values)["spec"]
    assert text == spec if isinstance(spec, str) else yaml.safe_load(text) == spec
    # the CronWorkflow gives no spec of its own: its runs take the WorkflowTemplate's
    assert parameter(one(documents, "WorkflowTemplate"), "spec") == text
    for cron in of_kind(documents, "CronWorkflow"):
        assert "spec" not in parameters_by_name(cron)


def test_scenario_passes_helm_lint(scenario):
    values, _ = scenario
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE)
    serious = [message for message in report["messages"] if message["severity"] >= 2]
    assert report["errors"] == [] and serious == [], report


def test_scenario_binds_the_executor_role_to_the_account_the_pods_run_as(scenario):
    values, documents = scenario
    merged = loaded().merge_values(values)
    role, binding = one(documents, "Role"), one(documents, "RoleBinding")
    # Argo's docs/workflow-rbac.md (v4.1.2): the executor's minimum, for outputs and progress; the
    # same rules as workflows/rbac.yaml, from workflows/argo/rbac.py.
    assert role["rules"] == list(rbac.EXECUTOR_RULES)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    account = workflow_spec(one(documents, "WorkflowTemplate")).get("serviceAccountName", "default")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    accounts = of_kind(documents, "ServiceAccount")
    if merged["serviceAccount"]["create"]:
        assert [account["metadata"]["name"] for account in accounts] == [binding["subjects"][0]["name"]]
        assert accounts[0]["metadata"].get("annotations", {}) == merged["serviceAccount"]["annotations"]
    else:
        assert accounts == []


def test_scenario_image_pull_secrets_reach_the_pods_and_the_created_account(scenario):
    values, documents = scenario
    merged = loaded().merge_values(values)
    secrets = merged["imagePullSecrets"]
    assert workflow_spec(one(documents, "WorkflowTemplate")).get("imagePullSecrets", []) == secrets
    for account in of_kind(documents, "ServiceAccount"):
        assert account.get("imagePullSecrets", []) == secrets


def test_scenario_pods_get_s3_credentials_as_the_values_say(scenario):
    values, documents = scenario
    s3 = loaded().merge_values(values)["s3"]
    secrets = of_kind(documents, "Secret")
    references = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for container in containers(one(documents, "WorkflowTemplate"))
        for env in container.get("env", [])
    }
    if s3["credentials"] == "none":
        assert secrets == [] and references == set()
        assert not any("env" in c for c in containers(one(documents, "WorkflowTemplate")))
    elif s3["credentials"] == "existingSecret":
        assert secrets == [] and references == {s3["existingSecret"]}
    else:
        secret = one(documents, "Secret")
        decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        assert decoded == {
            "accessKeyId": s3["accessKeyId"],
            "secretAccessKey": s3["secretAccessKey"],
            **({"region": s3["region"]} if s3["region"] else {}),
        }
        assert references == {secret["metadata"]["name"]}


# -- bad values are refused at install time ----------------------------------------------------

BAD_VALUES = {
    "misspelt top-level key": ({"imag": {"tag": "1.0"}}, "additional properties 'imag' not allowed"),
    "misspelt workflow key": ({"workflow": {"paralelism": 5}}, "additional properties 'paralelism' not allowed"),
    "misspelt s3 key": ({"s3": {"credential": "none"}}, "additional properties 'credential' not allowed"),
    "misspelt resource name": (
        {"resources": {"augment": {"limits": {"cpus": "2"}}}},
        "at '/resources/augment/limits': additional properties 'cpus' not allowed",
    ),
    "resource without its domain": (
        {"resources": {"augment": {"limits": {"gpu": 1}}}},
        "at '/resources/augment/limits': additional properties 'gpu' not allowed",
    ),
    "misspelt resource group": ({"resources": {"augment": {"limit": {"cpu": "2"}}}}, "additional properties 'limit'"),
    "number as text": ({"workflow": {"parallelism": "20"}}, "at '/workflow/parallelism': got string, want integer"),
    "boolean as text": ({"cronWorkflow": {"enabled": "yes"}}, "at '/cronWorkflow/enabled': got string, want boolean"),
    "cpu in words": ({"resources": {"augment": {"limits": {"cpu": "two"}}}}, "at '/resources/augment/limits/cpu'"),
    "negative cpu": ({"resources": {"augment": {"requests": {"cpu": -1}}}}, "at '/resources/augment/requests/cpu'"),
    "memory as a number": (
        {"resources": {"augment": {"limits": {"memory": 4294967296}}}},
        "at '/resources/augment/limits/memory': got number, want string",
    ),
    "gpu in words": (
        {"resources": {"augment": {"limits": {"nvidia.com/gpu": "one"}}}},
        "at '/resources/augment/limits/nvidia.com~1gpu'",
    ),
    "zero parallelism": ({"workflow": {"parallelism": 0}}, "at '/workflow/parallelism': minimum"),
    "four-field schedule": ({"cronWorkflow": {"schedules": ["0 2 * *"]}}, "at '/cronWorkflow/schedules/0'"),
    "minute out of range": ({"cronWorkflow": {"schedules": ["61 2 * * *"]}}, "at '/cronWorkflow/schedules/0'"),
    "unknown descriptor": ({"cronWorkflow": {"schedules": ["@dayly"]}}, "at '/cronWorkflow/schedules/0'"),
    "no schedule": ({"cronWorkflow": {"schedules": []}}, "at '/cronWorkflow/schedules'"),
    "schedule as text": ({"cronWorkflow": {"schedules": "0 2 * * *"}}, "got string, want array"),
    "concurrency policy case": (
        {"cronWorkflow": {"concurrencyPolicy": "forbid"}},
        "at '/cronWorkflow/concurrencyPolicy'",
    ),
    "unknown credentials mode": ({"s3": {"credentials": "irsa"}}, "at '/s3/credentials'"),
    "secret without keys": ({"s3": {"credentials": "secret"}}, "at '/s3/accessKeyId': minLength"),
    "existing secret unnamed": ({"s3": {"existingSecret": ""}}, "at '/s3/existingSecret': minLength"),
    "name too long": ({"fullnameOverride": "a" * 53}, "at '/fullnameOverride': maxLength"),
    "bad pull policy": ({"image": {"pullPolicy": "always"}}, "at '/image/pullPolicy'"),
    "pull secret as a name": ({"imagePullSecrets": ["regcred"]}, "at '/imagePullSecrets/0': got string, want object"),
    "pull secret without name": ({"imagePullSecrets": [{}]}, "at '/imagePullSecrets/0': missing property 'name'"),
    "pull secret misspelt": (
        {"imagePullSecrets": [{"nmae": "regcred"}]},
        "at '/imagePullSecrets/0': missing property 'name'",
    ),
    "pull secrets as a mapping": ({"imagePullSecrets": {"name": "regcred"}}, "at '/imagePullSecrets': got object"),
    "bad toleration effect": (
        {"tolerations": [{"key": "a", "operator": "Exists", "effect": "NoScheduel"}]},
        "at '/tolerations/0/effect'",
    ),
    "bad node label": ({"nodeSelector": {"pool": "a b"}}, "at '/nodeSelector/pool'"),
    "misspelt affinity": (
        {"affinity": {"nodeAfinity": {}}},
        "at '/affinity': additional properties 'nodeAfinity' not allowed",
    ),
    "affinity as text": ({"affinity": "spot"}, "at '/affinity': got string, want object"),
    "priority class with a space": ({"priorityClassName": "high priority"}, "at '/priorityClassName'"),
    "priority class as a number": ({"priorityClassName": 1000}, "at '/priorityClassName': got number, want string"),
    "common label the chart sets": (
        {"commonLabels": {"app.kubernetes.io/name": "other"}},
        "at '/commonLabels/app.kubernetes.io~1name': false schema",
    ),
    "common label value with a space": ({"commonLabels": {"team": "vision sets"}}, "at '/commonLabels/team'"),
    "pod label the chart sets": (
        {"podLabels": {"app.kubernetes.io/component": "other"}},
        "at '/podLabels/app.kubernetes.io~1component': false schema",
    ),
    "pod label as a number": ({"podLabels": {"tier": 1}}, "at '/podLabels/tier': got number, want string"),
    "pod annotation key with a space": (
        {"podAnnotations": {"a b": "c"}},
        "at '/podAnnotations': additional properties 'a b' not allowed",
    ),
    "pod annotation as a number": (
        {"podAnnotations": {"prometheus.io/port": 8080}},
        "at '/podAnnotations/prometheus.io~1port': got number, want string",
    ),
    "global as text": ({"global": "shared"}, "at '/global': got string, want object"),
    "root user": ({"workflow": {"runAsUser": 0}}, "at '/workflow/runAsUser': minimum"),
    "key deleted with null": ({"workflow": {"parallelism": None}}, "missing property 'parallelism'"),
    "spec as a list": ({"spec": ["flip_lr"]}, "at '/spec': got array, want string or object"),
    "database mutex without the mutex": (
        {"workflow": {"mutex": False, "mutexDatabase": True}},
        "at '/workflow/mutex': value must be true",
    ),
    "mutex as text": ({"workflow": {"mutex": "yes"}}, "at '/workflow/mutex': got string, want boolean"),
    "cron without locations": ({"cronWorkflow": {"enabled": True}}, "at '/workflow/source': minLength"),
    "schedule with its own time zone": (
        {**CRON, "cronWorkflow": {"enabled": True, "schedules": ["CRON_TZ=Asia/Tokyo 0 9 * * *"]}},
        "at '/cronWorkflow/schedules/0'",
    ),
    "TZ prefix": ({"cronWorkflow": {"schedules": ["TZ=UTC @daily"]}}, "at '/cronWorkflow/schedules/0'"),
    "pending timeout in words": ({"workflow": {"pendingTimeout": "20 minutes"}}, "at '/workflow/pendingTimeout'"),
    "zero pending timeout": ({"workflow": {"pendingTimeout": "0s"}}, "at '/workflow/pendingTimeout'"),
    "pending timeout as a number": ({"workflow": {"pendingTimeout": 900}}, "got number, want string"),
    "memory cap in words": ({"workflow": {"augmentMemoryCap": "16 GB"}}, "at '/workflow/augmentMemoryCap'"),
    "retry affinity as text": (
        {"workflow": {"retryOnOtherNode": "no"}},
        "at '/workflow/retryOnOtherNode': got string, want boolean",
    ),
    "metrics as text": ({"workflow": {"metrics": "on"}}, "at '/workflow/metrics': got string, want boolean"),
    "part-of with a space": ({"workflow": {"partOf": "vision sets"}}, "at '/workflow/partOf'"),
}


@pytest.mark.parametrize("values, message", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_are_refused_with_helms_schema_error(values, message):
    with pytest.raises(helm.HelmValuesError) as caught:
        loaded().render(values, name=RELEASE, namespace=NAMESPACE)
    text = str(caught.value)
    assert "values don't meet the specifications of the schema" in text
    assert message in text, text


@pytest.mark.parametrize("spec", ["source: s3://a\n  destination: [", "- flip_lr\n", "just words"])
def test_a_spec_that_is_no_yaml_mapping_is_refused_at_install(spec):
    with pytest.raises(helm.HelmRenderError, match="spec: not a YAML mapping"):
        loaded().render({"spec": spec}, name=RELEASE, namespace=NAMESPACE)


@pytest.mark.parametrize(
    "values, misspelt",
    [
        ({"workflow": {"paralelism": 5}}, "paralelism"),
        ({"podLabel": {"team": "vision"}}, "podLabel"),
        ({"imagePullSecret": [{"name": "regcred"}]}, "imagePullSecret"),
        ({"priorityClass": "high"}, "priorityClass"),
    ],
    ids=["workflow.paralelism", "podLabel", "imagePullSecret", "priorityClass"],
)
def test_helm_lint_reports_a_misspelt_value_as_an_error(values, misspelt):
    report = helm.lint(CHART, values, namespace=NAMESPACE)
    assert any(m["severity"] == 3 and misspelt in m["error"] for m in report["messages"]), report


# -- the schema's schedule rule is Argo's ---------------------------------------------------------

VALID_SCHEDULES = [
    "0 2 * * *",
    "*/15 * * * *",
    "0 0 1 1 *",
    "59 23 31 12 6",
    "0 9-17 * * mon-fri",
    "0 0 * JAN,jul SUN",
    "5,35 */2 1-15/3 * ?",
    "00 02 * * *",
    "@daily",
    "@hourly",
    "@every 1h30m",
    "@every 90s",
    "CRON_TZ=Europe/Paris 0 2 * * *",
    "TZ=UTC @daily",
    "  0 2 * * *  ",
]
INVALID_SCHEDULES = [
    "0 2 * *",
    "0 2 * * * *",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 7",
    "* * * * sunday",
    "*/0 * * * *",
    "@dayly",
    "@every",
    "@every day",
    "every day",
    "",
    "0,,1 * * * *",
    "a b c d e",
]


@pytest.mark.parametrize("expression", VALID_SCHEDULES + INVALID_SCHEDULES)
def test_values_schema_takes_a_schedule_exactly_when_argo_does(expression):
    pattern = json.loads((CHART / "values.schema.json").read_text())["properties"]["cronWorkflow"]["properties"][
        "schedules"
    ]["items"]["pattern"]
    assert (re.search(pattern, expression) is not None) == (cron_problems("s", expression) == [])
    assert (expression in VALID_SCHEDULES) == (cron_problems("s", expression) == [])


def test_values_schema_cannot_see_a_backwards_range_but_the_builder_can():
    # A regular expression cannot compare two numbers: documented in chart.cron_pattern.
    assert re.search(chart.cron_pattern(), "0 5-1 * * *") and cron_problems("s", "0 5-1 * * *")


# -- values.yaml, its schema and its reference ---------------------------------------------------


def test_values_schema_is_closed_and_described_at_every_level():
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))

    def check(node: dict, where: str) -> None:
        if not isinstance(node, dict):
            return  # `false`: a key the chart sets itself, refused
        if node.get("type") == "object" and "properties" in node:
            # closed: no key beyond those listed, or every other key held to a schema (resource
            # names, label keys) rather than left open
            assert node.get("additionalProperties") is False or isinstance(node.get("additionalProperties"), dict), (
                f"{where}: not closed"
            )
            for key, child in node["properties"].items():
                check(child, f"{where}.{key}")
        if node.get("type") == "array":
            check(node["items"], f"{where}[]")
        if isinstance(node.get("additionalProperties"), dict):
            check(node["additionalProperties"], f"{where}.*")

    check(schema, "values")
    for path, _ in chart.documented_keys():
        node = schema
        for key in path:
            node = node["properties"][key]
        assert node.get("description"), ".".join(path)


def test_every_value_carries_a_comment_that_the_schema_and_readme_repeat():
    text = chart.VALUES.read_text(encoding="utf-8")
    comments = chart.value_comments(text)
    readme = chart.README.read_text(encoding="utf-8")
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    documented = [path for path, _ in chart.documented_keys()]
    for path in documented:
        assert comments.get(path), f"values.yaml: {'.'.join(path)} has no '# --' comment"
        node = schema
        for key in path:
            node = node["properties"][key]
        assert node["description"] == comments[path]
        group = any(other[: len(path)] == path and other != path for other in documented)
        assert (f"| `{'.'.join(path)}` |" in readme) != group, ".".join(path)


def test_every_empty_block_in_values_yaml_carries_a_commented_example():
    # the house style (argo-helm, cert-manager): an empty map or list shows what goes in it
    lines = chart.VALUES.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^\s*[\w.-]+: (\{\}|\[\])$", line) and not line.startswith("global:"):
            following = lines[number + 1] if number + 1 < len(lines) else ""
            assert following.lstrip().startswith("#"), f"values.yaml line {number + 1}: {line.strip()} has no example"


def test_a_value_without_comment_stops_the_generator():
    text = chart.VALUES.read_text(encoding="utf-8").replace("  # -- Most pods of one run at once.\n", "")
    with pytest.raises(ValueError, match=re.escape("workflow.parallelism: no '# --' comment")):
        chart.values_schema(text)


def test_values_yaml_spec_is_the_builders_example_spec_and_image_its_default():
    values = yaml.safe_load(chart.VALUES.read_text(encoding="utf-8"))
    assert values["spec"] == argo_golden.EXAMPLE_SPEC
    assert f"{values['image']['repository']}:{metadata()['appVersion']}" == DEFAULT_IMAGE


# -- Chart.yaml ----------------------------------------------------------------------------------


def test_chart_metadata_is_complete_for_artifact_hub():
    meta = metadata()
    assert meta["apiVersion"] == "v2" and meta["type"] == "application"
    assert meta["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"
    assert meta["home"].startswith("https://") and all(source.startswith("https://") for source in meta["sources"])
    assert meta["maintainers"] and all(maintainer["name"] for maintainer in meta["maintainers"])
    annotations = meta["annotations"]
    assert all(key.startswith("artifacthub.io/") for key in annotations)
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    images = yaml.safe_load(annotations["artifacthub.io/images"])
    assert [image["image"] for image in images] == [DEFAULT_IMAGE]
    changes = yaml.safe_load(annotations["artifacthub.io/changes"])
    assert changes and {change["kind"] for change in changes} <= {
        "added",
        "changed",
        "deprecated",
        "removed",
        "fixed",
        "security",
    }
    for key in ("artifacthub.io/links", "artifacthub.io/recommendations"):
        assert all(item["url"].startswith("https://") for item in yaml.safe_load(annotations[key])), key


# -- behaviour of single values ------------------------------------------------------------------

CPUS = {
    "limit 1500m": ({"requests": {"cpu": "1"}, "limits": {"cpu": "1500m"}}, 1),
    "limit 2": ({"limits": {"cpu": "2"}}, 2),
    "limit 2.5": ({"limits": {"cpu": "2.5"}}, 2),
    "limit 500m": ({"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}, 1),
    "limit 4000m": ({"limits": {"cpu": "4000m"}}, 4),
    "request only": ({"limits": None, "requests": {"cpu": "3", "memory": "1Gi"}}, 3),
    "no cpu": ({"limits": {"cpu": None}, "requests": {"cpu": None}}, 1),
    "limit 3 as a number": ({"requests": {"cpu": 1}, "limits": {"cpu": 3}}, 3),
    "limit 2.5 as a number": ({"requests": {"cpu": 0.5}, "limits": {"cpu": 2.5}}, 2),
    "limit 0.5 as a number": ({"requests": {"cpu": 0.25}, "limits": {"cpu": 0.5}}, 1),
}


@pytest.mark.parametrize("resources, expected", CPUS.values(), ids=CPUS.keys())
def test_augment_threads_follow_its_cpu_as_the_builder_derives_them(resources, expected):
    documents = render({"resources": {"augment": resources}})
    merged = loaded().merge_values({"resources": {"augment": resources}})["resources"]["augment"]
    assert BuildOptions(resources={"augment": _resources(merged)}).augment_threads() == expected
    augment = next(c for c in containers(one(documents, "WorkflowTemplate")) if c["args"][1] == "augment")
    assert f"--threads={expected}" in augment["args"]


def test_quantities_given_as_numbers_render_as_text_as_the_builder_writes_them():
    resources = {
        "requests": {"cpu": 0.5, "memory": "1Gi", "nvidia.com/gpu": 1},
        "limits": {"cpu": 2, "memory": "4Gi", "nvidia.com/gpu": 1, "ephemeral-storage": "10Gi"},
    }
    documents = render({"resources": {"shard": resources}})
    shard = next(c for c in containers(one(documents, "WorkflowTemplate")) if c["args"][1] == "shard")
    assert shard["resources"] == {
        "requests": {"cpu": "0.5", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1", "ephemeral-storage": "10Gi"},
    }
    made = builder.manifest(
        builder.workflow_template(argo_golden.EXAMPLE_SPEC, BuildOptions(resources={"shard": _resources(resources)}))
    )
    assert next(c for c in containers(made) if c["args"][1] == "shard")["resources"] == shard["resources"]


def test_the_new_pod_values_reach_every_pod_template_and_nothing_else():
    values = {
        "podAnnotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        "podLabels": {"cost-center": "ml-data"},
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}},
        "priorityClassName": "batch-low",
        "commonLabels": {"team": "vision"},
    }
    template = one(render(values), "WorkflowTemplate")
    pods = pod_templates(template)
    assert [pod["name"] for pod in pods] == ["shard", "augment", "manifest"]
    for pod in pods:
        assert pod["metadata"]["annotations"] == values["podAnnotations"]
        assert pod["metadata"]["labels"]["cost-center"] == "ml-data"
        assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == pod["name"]
        assert pod["affinity"] == values["affinity"] and pod["priorityClassName"] == "batch-low"
        assert "team" not in pod["metadata"]["labels"]
    # the run's labels are the builder's: commonLabels mark the objects, podLabels the pods
    assert "team" not in workflow_spec(template)["workflowMetadata"]["labels"]
    assert template["metadata"]["labels"]["team"] == "vision"
    # the entry template runs no pod: it gets none of them
    main = next(t for t in workflow_spec(template)["templates"] if t["name"] == "main")
    assert not {"metadata", "affinity", "priorityClassName"} & set(main)


def test_global_values_are_accepted_and_change_nothing():
    assert render({"global": {"imageRegistry": "registry.example.com", "storageClass": "fast"}}) == render()


def test_name_override_renames_objects_and_the_app_label():
    documents = render({"nameOverride": "kscope"}, release="ml")
    template = one(documents, "WorkflowTemplate")
    assert template["metadata"]["name"] == "ml-kscope"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "kscope"
    assert {c["metadata"]["labels"]["app.kubernetes.io/name"] for c in pod_templates(template)} == {"kscope"}
    assert one(documents, "ConfigMap")["metadata"]["name"] == "ml-kscope-spec"


def test_spec_values_from_the_chart_command_give_the_builders_words_for_that_spec(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("source: s3://a/in\ndestination: s3://a/out\ntransforms: [flip_lr, blur]\nshards: 2\n")
    assert cli.main(["chart", "--values", str(spec)]) == 0
    values = yaml.safe_load(capsys.readouterr().out)
    documents = render(values)
    template = one(documents, "WorkflowTemplate")
    made = builder.manifest(builder.workflow_template(spec, BuildOptions(namespace=NAMESPACE)))
    assert template["metadata"]["annotations"] == made["metadata"]["annotations"]
    assert parameter(template, "spec") == spec.read_text()


@pytest.mark.parametrize("values", [{}, CRON], ids=["template", "with-cron"])
def test_the_mutex_values_render_as_the_builder_renders_them(values):
    # main's mutex on its destination (held under templateRef too) and the run's own, taken first
    def synchronizations(workflow: dict) -> list:
        documents = render({**values, "workflow": {**values.get("workflow", {}), **workflow}})
        template = one(documents, "WorkflowTemplate")
        runs = [template] + [effective_cron(cron, template) for cron in of_kind(documents, "CronWorkflow")]
        main = next(t for t in workflow_spec(template)["templates"] if t["name"] == "main")
        return [workflow_spec(run).get("synchronization") for run in runs] + [main.get("synchronization")]

    def mutex(name: str, **database) -> str:
        return json.dumps({"mutexes": [{"name": name, **database}]})

    runs = len(synchronizations({})) - 1
    assert list(map(json.dumps, synchronizations({}))) == [mutex(builder.RUN_MUTEX_NAME)] * runs + [
        mutex(builder.MUTEX_NAME)
    ]
    assert list(map(json.dumps, synchronizations({"mutexDatabase": True}))) == [
        mutex(builder.RUN_MUTEX_NAME, database=True)
    ] * runs + [mutex(builder.MUTEX_NAME, database=True)]
    assert synchronizations({"mutex": False}) == [None] * (runs + 1)


def test_the_template_leaves_its_locations_to_each_run_and_the_cron_carries_the_values():
    template = workflow_spec(one(render(), "WorkflowTemplate"))["arguments"]["parameters"]
    assert [p for p in template if p["name"] in ("source", "destination") and "value" in p] == []
    given = render(CRON)
    assert parameter(one(given, "WorkflowTemplate"), "destination") == "s3://b/out"
    assert (parameter(one(given, "CronWorkflow"), "source"), parameter(one(given, "CronWorkflow"), "destination")) == (
        "s3://b/in",
        "s3://b/out",
    )


@pytest.mark.parametrize("missing", ["source", "destination"])
def test_an_enabled_cron_needs_its_locations_never_the_example_specs(missing):
    # The spec in values.yaml is an example's: a CronWorkflow running unattended on its
    # s3://my-bucket/... would write where nobody asked.
    values = {"cronWorkflow": {"enabled": True}, "workflow": {**CRON["workflow"], missing: ""}}
    with pytest.raises(helm.HelmValuesError, match=f"at '/workflow/{missing}': minLength"):
        loaded().render(values, name=RELEASE, namespace=NAMESPACE)


def test_a_changed_spec_gets_a_generic_title_not_the_default_specs():
    template = one(
        render({"spec": "source: s3://a/in\ndestination: s3://a/out\ntransforms: [flip_lr]\n"}), "WorkflowTemplate"
    )
    assert template["metadata"]["annotations"][builder.TITLE] == GENERIC_TITLE
    assert "16 images" not in template["metadata"]["annotations"][builder.DESCRIPTION]


def test_notes_give_the_numbered_next_commands():
    text = notes()
    assert "argo submit -n argo --from workflowtemplate/kaleidoscope" in text
    # each run names its destination: not the default spec's
    assert "-p destination=s3://<bucket>/<augmented>" in text and "<destination>/manifest/" in text
    assert "s3://my-bucket" not in text and "waits, Pending" in text
    assert "kubectl create secret generic kaleidoscope-s3 -n argo" in text
    numbered = [line.split(".")[0] for line in text.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert numbered == ["1", "2", "3", "4"]
    with_cron = notes({**CRON, "s3": {"credentials": "none"}})
    assert "argo cron get -n argo kaleidoscope" in with_cron
    assert "s3://b/out/manifest/" in with_cron and "create secret" not in with_cron
    assert "-p destination=s3://b/out" in with_cron
    assert "waits, Pending" not in notes({"workflow": {"mutex": False}})
    pulled = notes({"imagePullSecrets": [{"name": "regcred"}]})
    assert "kubectl create secret docker-registry regcred -n argo" in pulled


# -- failing fast and retrying wisely, as the builder renders them -------------------------------

MEMORY_CASES = {
    "defaults": ({}, {}),
    "fractional limit": ({"limits": {"memory": "1.5Gi"}, "requests": {"memory": "1Gi"}}, {}),
    "limit only, cap in Mi": (
        {"limits": {"memory": "3Gi"}, "requests": {"memory": None}},
        {"augmentMemoryCap": "10240Mi"},
    ),
    "cap equals the limit": ({}, {"augmentMemoryCap": "4Gi"}),
    "no cap": ({}, {"augmentMemoryCap": ""}),
    "no retries": ({}, {"retries": 0}),
    "no memory limit": ({"limits": {"memory": None}}, {}),
}


@pytest.mark.parametrize("augment, workflow", MEMORY_CASES.values(), ids=MEMORY_CASES.keys())
def test_the_augment_memory_patch_is_the_builders(augment, workflow):
    values = {"resources": {"augment": augment}, "workflow": workflow}
    documents = render(values)
    settings = builder_settings(values, documents)
    rendered = next(t for t in workflow_spec(one(documents, "WorkflowTemplate"))["templates"] if t["name"] == "augment")
    assert rendered.get("podSpecPatch") == memory_patch(settings.template_options)


def test_a_memory_cap_below_the_augment_limit_is_refused_at_install_naming_both():
    with pytest.raises(helm.HelmRenderError, match=r"workflow.augmentMemoryCap: 2Gi is below resources.augment"):
        loaded().render({"workflow": {"augmentMemoryCap": "2Gi"}}, name=RELEASE, namespace=NAMESPACE)


def test_pending_timeout_retry_affinity_and_metrics_follow_the_values():
    def pods(workflow: dict) -> list[dict]:
        return pod_templates(one(render({"workflow": workflow}), "WorkflowTemplate"))

    assert {t["pendingTimeout"] for t in pods({})} == {"20m"}
    assert {t["pendingTimeout"] for t in pods({"pendingTimeout": "1h"})} == {"1h"}
    assert all("pendingTimeout" not in t for t in pods({"pendingTimeout": ""}))
    assert all(t["retryStrategy"]["affinity"] == {"nodeAntiAffinity": {}} for t in pods({}))
    assert all("affinity" not in t["retryStrategy"] for t in pods({"retryOnOtherNode": False}))
    assert all("metrics" in t for t in pods({}))
    off = render({"workflow": {"metrics": False}})
    assert "metrics" not in json.dumps(workflow_spec(one(off, "WorkflowTemplate")))


def test_runs_and_pods_carry_the_release_as_instance_and_part_of():
    documents = render({"workflow": {"partOf": "vision"}}, release="ml")
    template = workflow_spec(one(documents, "WorkflowTemplate"))
    run = template["workflowMetadata"]["labels"]
    assert run["app.kubernetes.io/instance"] == "ml" and run["app.kubernetes.io/part-of"] == "vision"
    assert run["app.kubernetes.io/component"] == "workflow"
    for pod in (t for t in template["templates"] if "container" in t):
        labels = pod["metadata"]["labels"]
        assert (labels["app.kubernetes.io/instance"], labels["app.kubernetes.io/component"]) == ("ml", pod["name"])
        assert {
            label["value"] for m in pod["metrics"]["prometheus"] for label in m["labels"] if label["key"] == "release"
        } == {"ml"}
    # every object the chart installs carries the same part-of
    assert {document["metadata"]["labels"]["app.kubernetes.io/part-of"] for document in documents} == {"vision"}
