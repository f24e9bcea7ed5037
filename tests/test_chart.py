"""The Helm chart: generated from the builder, rendered by real Helm, valid for Argo and Kubernetes.

Helm itself renders the chart here (helm-python-sdk binds Helm's Go library: no helm binary, no
cluster). Each ``ci/`` scenario is checked against Argo's strict schema, the Kubernetes schema,
``helm lint``, and the builder's own render for the same settings; bad values must be refused by
Helm's schema check, as ``helm install`` would refuse them.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from hera.workflows import Resources
from hera.workflows.models import Toleration

from tests.prerequisites import require_module, under_ci

helm = require_module("helm_python", "helm-python-sdk is not installed: pip install -e '.[test]'")
kubernetes_validate = require_module(
    "kubernetes_validate", "kubernetes-validate is not installed: pip install -e '.[test]'"
)

from kaleidoscope.workflows import argo_golden, builder, chart, cli, rbac
from kaleidoscope.workflows.argo_cron import cron_problems
from kaleidoscope.workflows.argo_options import DEFAULT_IMAGE, BuildOptions, CronSchedule
from kaleidoscope.workflows.argo_templates import memory_patch
from kaleidoscope.workflows.lint import lint
from tests.argo_schema import assert_valid

CHART = chart.CHART
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE, NAMESPACE = "kaleidoscope", "argo"
ARGO_KINDS = ("WorkflowTemplate", "CronWorkflow")
#: The oldest Kubernetes the chart is checked against, and the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
GENERIC_TITLE = "Kaleidoscope: image-dataset augmentation"
#: What an enabled CronWorkflow needs: the locations it runs with (the values schema requires them).
CRON = {"cronWorkflow": {"enabled": True}, "workflow": {"source": "s3://b/in", "destination": "s3://b/out"}}


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


def containers(document: dict) -> list[dict]:
    return [template["container"] for template in workflow_spec(document)["templates"] if "container" in template]


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


def _resources(values: dict) -> Resources:
    requests, limits = values.get("requests") or {}, values.get("limits") or {}
    return Resources(
        cpu_request=requests.get("cpu"),
        cpu_limit=limits.get("cpu"),
        memory_request=requests.get("memory"),
        memory_limit=limits.get("memory"),
        ephemeral_request=requests.get("ephemeral-storage"),
        ephemeral_limit=limits.get("ephemeral-storage"),
    )


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


def builder_render(kind: str, settings: Settings, release: str = RELEASE) -> dict:
    """The builder's object for the settings, with what the chart adds or words differently made explicit:
    the standard labels, and the title and description when the spec changed or values set them (a
    run's words add the builder's run sentence to them)."""
    if kind == "WorkflowTemplate":
        made = builder.manifest(builder.workflow_template(settings.spec, settings.template_options))
    else:
        made = builder.manifest(builder.cron_workflow(settings.spec, settings.cron_options, settings.schedule))
    made["metadata"]["labels"] = {
        **made["metadata"]["labels"],
        **standard_labels(release, settings.template_options.part_of_name()),
    }

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


# -- generated files -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", chart.GENERATED)
def test_generated_file_equals_what_the_generator_makes_from_the_builder_today(path):
    generated = chart.generate()[path]
    target = CHART / path
    if os.environ.get("KALEIDOSCOPE_REGENERATE"):
        if under_ci():
            pytest.fail("KALEIDOSCOPE_REGENERATE is refused under CI: regenerate locally and commit the files")
        target.write_text(generated, encoding="utf-8")
    assert target.exists(), f"{target} is missing: run KALEIDOSCOPE_REGENERATE=1 pytest tests/test_chart.py"
    assert target.read_text(encoding="utf-8") == generated, (
        f"charts/kaleidoscope/{path} differs from what workflows/chart.py generates: if the change is intended, "
        "run `kaleidoscope chart` (or KALEIDOSCOPE_REGENERATE=1 pytest tests/test_chart.py) and commit the result"
    )


def test_chart_command_reports_the_committed_chart_up_to_date(capsys):
    assert cli.main(["chart", "--check"]) == 0, capsys.readouterr().err


def test_generated_templates_escape_every_argo_expression_for_helm():
    # Helm would evaluate a bare {{workflow.uid}} as its own template and fail (or print nothing).
    rendered = one(render(), "WorkflowTemplate")
    made = builder.manifest(builder.workflow_template(argo_golden.EXAMPLE_SPEC))
    expressions = set(re.findall(r"\{\{[^}]*\}\}", json.dumps(made)))
    assert "{{workflow.uid}}" in expressions and len(expressions) > 5
    text = json.dumps(rendered)
    assert all(expression in text for expression in expressions)


# -- the default render is the builder's render ------------------------------------------------


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


def test_chart_with_cron_enabled_renders_exactly_the_builders_cronworkflow():
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
    rendered = one(documents, "CronWorkflow")
    assert rendered["metadata"].pop("labels") == {**made["metadata"].pop("labels"), **standard_labels()}
    assert as_yaml(rendered) == as_yaml(made)
    assert parameter(rendered, "incremental") == "true"
    assert parameter(one(documents, "WorkflowTemplate"), "incremental") == "false"
    # kept by its history limits, not a TTL (builder.py: a TTL would delete them first)
    assert "ttlStrategy" not in workflow_spec(rendered) and "ttlStrategy" in workflow_spec(
        one(documents, "WorkflowTemplate")
    )


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
    } <= names
    credentials = {loaded().merge_values(load_scenario(path))["s3"]["credentials"] for path in SCENARIOS}
    assert credentials == {"existingSecret", "secret", "none"}


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
    for document in documents:
        if document["kind"] in ARGO_KINDS:
            assert as_yaml(document) == as_yaml(builder_render(document["kind"], settings)), document["kind"]
    enabled = settings.merged["cronWorkflow"]["enabled"]
    assert len(of_kind(documents, "CronWorkflow")) == (1 if enabled else 0)


def test_scenario_spec_parameter_defaults_to_exactly_the_configmaps_spec(scenario):
    values, documents = scenario
    configmap = one(documents, "ConfigMap")
    text = configmap["data"]["spec"]
    assert configmap["metadata"]["labels"]["workflows.argoproj.io/configmap-type"] == "Parameter"
    spec = loaded().merge_values(values)["spec"]
    assert text == spec if isinstance(spec, str) else yaml.safe_load(text) == spec
    for document in documents:
        if document["kind"] in ARGO_KINDS:
            assert parameter(document, "spec") == text


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
    # same rules as workflows/rbac.yaml, from workflows/rbac.py.
    assert role["rules"] == list(rbac.EXECUTOR_RULES)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    for document in documents:
        if document["kind"] in ARGO_KINDS:
            account = workflow_spec(document).get("serviceAccountName", "default")
            assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    accounts = of_kind(documents, "ServiceAccount")
    if merged["serviceAccount"]["create"]:
        assert [account["metadata"]["name"] for account in accounts] == [binding["subjects"][0]["name"]]
        assert accounts[0]["metadata"].get("annotations", {}) == merged["serviceAccount"]["annotations"]
    else:
        assert accounts == []


def test_scenario_pods_get_s3_credentials_as_the_values_say(scenario):
    values, documents = scenario
    s3 = loaded().merge_values(values)["s3"]
    secrets = of_kind(documents, "Secret")
    references = {
        env["valueFrom"]["secretKeyRef"]["name"]
        for document in documents
        if document["kind"] in ARGO_KINDS
        for container in containers(document)
        for env in container.get("env", [])
    }
    if s3["credentials"] == "none":
        assert secrets == [] and references == set()
        assert not any("env" in c for d in documents if d["kind"] in ARGO_KINDS for c in containers(d))
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
    "misspelt resource name": ({"resources": {"augment": {"limits": {"cpus": "2"}}}}, "additional properties 'cpus'"),
    "number as text": ({"workflow": {"parallelism": "20"}}, "at '/workflow/parallelism': got string, want integer"),
    "boolean as text": ({"cronWorkflow": {"enabled": "yes"}}, "at '/cronWorkflow/enabled': got string, want boolean"),
    "cpu as a number": ({"resources": {"augment": {"limits": {"cpu": 2}}}}, "got number, want string"),
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
    "bad toleration effect": (
        {"tolerations": [{"key": "a", "operator": "Exists", "effect": "NoScheduel"}]},
        "at '/tolerations/0/effect'",
    ),
    "bad node label": ({"nodeSelector": {"pool": "a b"}}, "at '/nodeSelector/pool'"),
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


def test_helm_lint_reports_a_misspelt_value_as_an_error():
    report = helm.lint(CHART, {"workflow": {"paralelism": 5}}, namespace=NAMESPACE)
    assert any(m["severity"] == 3 and "paralelism" in m["error"] for m in report["messages"]), report


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
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where}: not closed"
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
    for path, _ in chart.documented_keys():
        assert comments.get(path), f"values.yaml: {'.'.join(path)} has no '# --' comment"
        node = schema
        for key in path:
            node = node["properties"][key]
        assert node["description"] == comments[path]
        if "properties" not in node:
            assert f"| `{'.'.join(path)}` |" in readme, ".".join(path)


def test_a_value_without_comment_stops_the_generator():
    text = chart.VALUES.read_text(encoding="utf-8").replace("  # -- Most pods of one run at once.\n", "")
    with pytest.raises(ValueError, match=re.escape("workflow.parallelism: no '# --' comment")):
        chart.values_schema(text)


def test_values_yaml_spec_is_the_builders_example_spec_and_image_its_default():
    values = yaml.safe_load(chart.VALUES.read_text(encoding="utf-8"))
    assert values["spec"] == argo_golden.EXAMPLE_SPEC
    assert f"{values['image']['repository']}:{metadata()['appVersion']}" == DEFAULT_IMAGE


# -- behaviour of single values ------------------------------------------------------------------

CPUS = {
    "limit 1500m": ({"requests": {"cpu": "1"}, "limits": {"cpu": "1500m"}}, 1),
    "limit 2": ({"limits": {"cpu": "2"}}, 2),
    "limit 2.5": ({"limits": {"cpu": "2.5"}}, 2),
    "limit 500m": ({"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}, 1),
    "limit 4000m": ({"limits": {"cpu": "4000m"}}, 4),
    "request only": ({"limits": None, "requests": {"cpu": "3", "memory": "1Gi"}}, 3),
    "no cpu": ({"limits": {"cpu": None}, "requests": {"cpu": None}}, 1),
}


@pytest.mark.parametrize("resources, expected", CPUS.values(), ids=CPUS.keys())
def test_augment_threads_follow_its_cpu_as_the_builder_derives_them(resources, expected):
    documents = render({"resources": {"augment": resources}})
    merged = loaded().merge_values({"resources": {"augment": resources}})["resources"]["augment"]
    assert BuildOptions(resources={"augment": _resources(merged)}).augment_threads() == expected
    augment = next(c for c in containers(one(documents, "WorkflowTemplate")) if c["args"][1] == "augment")
    assert f"--threads={expected}" in augment["args"]


def test_name_override_renames_objects_and_the_app_label():
    documents = render({"nameOverride": "kscope"}, release="ml")
    template = one(documents, "WorkflowTemplate")
    assert template["metadata"]["name"] == "ml-kscope"
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "kscope"
    assert {
        c["metadata"]["labels"]["app.kubernetes.io/name"]
        for c in workflow_spec(template)["templates"]
        if "container" in c
    } == {"kscope"}
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
    def synchronizations(workflow: dict) -> list:
        documents = render({**values, "workflow": {**values.get("workflow", {}), **workflow}})
        return [workflow_spec(document).get("synchronization") for document in argo_objects(documents)]

    name = "kaleidoscope-{{workflow.parameters.destination}}"
    assert set(map(json.dumps, synchronizations({}))) == {json.dumps({"mutexes": [{"name": name}]})}
    database = synchronizations({"mutexDatabase": True})
    assert set(map(json.dumps, database)) == {json.dumps({"mutexes": [{"name": name, "database": True}]})}
    assert synchronizations({"mutex": False}) == [None] * len(database)


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
    def pod_templates(workflow: dict) -> list[dict]:
        documents = render({"workflow": workflow})
        return [t for t in workflow_spec(one(documents, "WorkflowTemplate"))["templates"] if "container" in t]

    assert {t["pendingTimeout"] for t in pod_templates({})} == {"20m"}
    assert {t["pendingTimeout"] for t in pod_templates({"pendingTimeout": "1h"})} == {"1h"}
    assert all("pendingTimeout" not in t for t in pod_templates({"pendingTimeout": ""}))
    assert all(t["retryStrategy"]["affinity"] == {"nodeAntiAffinity": {}} for t in pod_templates({}))
    assert all("affinity" not in t["retryStrategy"] for t in pod_templates({"retryOnOtherNode": False}))
    assert all("metrics" in t for t in pod_templates({}))
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
