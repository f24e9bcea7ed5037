"""``kaleidoscope render``: the builder's YAML on stdout or in a file, bad input refused with exit 2."""

from __future__ import annotations

import pytest
import yaml

from kaleidoscope.workflows import builder
from kaleidoscope.workflows.argo.options import BuildOptions, CronSchedule
from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.lint import lint
from tests.argo_schema import assert_valid
from tools import argo_golden


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(argo_golden.EXAMPLE_SPEC)
    return path


def render(argv, capsys) -> tuple[int, str, str]:
    code = main(["render", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", builder.KINDS)
def test_prints_what_the_builder_renders_and_what_is_committed(kind, spec_file, capsys):
    code, out, _ = render([str(spec_file), "--kind", kind], capsys)
    assert code == 0
    assert out == builder.render(argo_golden.EXAMPLE_SPEC, kind)
    assert out == argo_golden.FILES[kind].read_text(encoding="utf-8")


def test_kind_defaults_to_workflow(spec_file, capsys):
    _, out, _ = render([str(spec_file)], capsys)
    assert yaml.safe_load(out)["kind"] == "Workflow"


def test_writes_a_file_with_output(spec_file, tmp_path, capsys):
    target = tmp_path / "out" / "wf.yaml"
    target.parent.mkdir()
    code, out, err = render([str(spec_file), "--kind", "workflowtemplate", "-o", str(target)], capsys)
    assert code == 0 and out == ""
    # Then the outputs per image: the example spec's source is on S3, so not listed.
    assert err.splitlines() == [
        f"wrote {target}",
        "s3://my-bucket/photos: 16 outputs per image; not listed, so no total (--count lists it)",
    ]
    assert target.read_text() == builder.render(argo_golden.EXAMPLE_SPEC, "workflowtemplate")


#: ``kaleidoscope render`` flags set away from their defaults: a CronWorkflow with its options changed.
CHANGED_FLAGS = [
    "--kind",
    "cronworkflow",
    "--schedule",
    "30 1 * * *",
    "--schedule",
    "@weekly",
    "--timezone",
    "Europe/Paris",
    "--concurrency-policy",
    "Replace",
    "--name",
    "nightly",
    "--namespace",
    "ml",
    "--image",
    "reg.example.com/k:2",
    "--image-pull-policy",
    "Always",
    "--service-account",
    "runner",
    "--s3-secret",
    "minio",
    "--s3-endpoint",
    "http://minio:9000",
    "--source",
    "s3://in/p",
    "--destination",
    "s3://out/a",
    "--incremental",
    "false",
    "--mutex-database",
    "--parallelism",
    "4",
    "--retries",
    "1",
    "--augment-cpu",
    "4",
    "--augment-memory",
    "8Gi",
    "--node-selector",
    "pool=batch",
    "--toleration",
    "dedicated=batch:NoSchedule",
    "--toleration",
    "spot",
    "--instance",
    "ml-prod",
    "--part-of",
    "vision",
    "--pending-timeout",
    "45m",
    "--augment-memory-cap",
    "24Gi",
    "--no-retry-anti-affinity",
    "--no-metrics",
]


def test_flags_map_onto_the_builders_options(spec_file, capsys):
    code, out, _ = render([str(spec_file), *CHANGED_FLAGS], capsys)
    assert code == 0
    from hera.workflows import Resources
    from hera.workflows.models import Toleration

    expected = builder.render(
        spec_file,
        "cronworkflow",
        BuildOptions(
            name="nightly",
            namespace="ml",
            image="reg.example.com/k:2",
            image_pull_policy="Always",
            service_account="runner",
            s3_secret="minio",
            s3_endpoint="http://minio:9000",
            source="s3://in/p",
            destination="s3://out/a",
            incremental=False,
            mutex_database=True,
            parallelism=4,
            retries=1,
            resources={"augment": Resources(cpu_request="4", cpu_limit="4", memory_request="8Gi", memory_limit="8Gi")},
            node_selector={"pool": "batch"},
            tolerations=(
                Toleration(key="dedicated", operator="Equal", value="batch", effect="NoSchedule"),
                Toleration(key="spot", operator="Exists"),
            ),
            instance="ml-prod",
            part_of="vision",
            pending_timeout="45m",
            augment_memory_cap="24Gi",
            retry_other_node=False,
            metrics=False,
        ),
        CronSchedule(schedules=("30 1 * * *", "@weekly"), timezone="Europe/Paris", concurrency_policy="Replace"),
    )
    assert out == expected
    manifest = yaml.safe_load(out)
    assert lint(manifest) == []
    assert "--threads=4" in manifest["spec"]["workflowSpec"]["templates"][2]["container"]["args"]


# Its own test: without ../shared/argo it skips (or fails under CI) and the mapping above still runs.
def test_changed_flags_render_a_manifest_that_passes_argos_strict_schema(spec_file, capsys):
    code, out, _ = render([str(spec_file), *CHANGED_FLAGS], capsys)
    assert code == 0
    assert_valid(yaml.safe_load(out))


def test_the_off_switches_leave_their_fields_out(spec_file, capsys):
    _, out, _ = render(
        [
            str(spec_file),
            "--no-pending-timeout",
            "--no-augment-memory-growth",
            "--no-service-account",
            "--no-retry-anti-affinity",
            "--no-metrics",
        ],
        capsys,
    )
    for field in ("pendingTimeout", "podSpecPatch", "serviceAccountName", "affinity", "metrics"):
        assert field not in out, field
    assert out == builder.render(
        spec_file,
        "workflow",
        BuildOptions(
            pending_timeout=None, augment_memory_cap=None, service_account=None, retry_other_node=False, metrics=False
        ),
    )


def test_no_s3_secret_renders_no_credentials(spec_file, capsys):
    _, out, _ = render([str(spec_file), "--no-s3-secret"], capsys)
    assert "secretKeyRef" not in out and "AWS_" not in out


@pytest.mark.parametrize("kind", builder.KINDS)
def test_mutex_flags(spec_file, capsys, kind):
    def synchronization(*flags: str):
        code, out, _ = render([str(spec_file), "--kind", kind, *flags], capsys)
        assert code == 0
        manifest = yaml.safe_load(out)
        assert lint(manifest) == []
        spec = manifest["spec"]["workflowSpec"] if kind == "cronworkflow" else manifest["spec"]
        main = next(template for template in spec["templates"] if template["name"] == "main")
        return spec.get("synchronization"), main.get("synchronization")

    run, main = synchronization()
    assert run == {"mutexes": [{"name": "kaleidoscope.run-{{workflow.parameters.destination}}"}]}
    assert main == {"mutexes": [{"name": "kaleidoscope-{{inputs.parameters.destination}}"}]}
    run, main = synchronization("--mutex-database")
    assert run == {"mutexes": [{"name": "kaleidoscope.run-{{workflow.parameters.destination}}", "database": True}]}
    assert main == {"mutexes": [{"name": "kaleidoscope-{{inputs.parameters.destination}}", "database": True}]}
    assert synchronization("--no-mutex") == (None, None)


@pytest.mark.parametrize(
    "kind, flags, source, destination",
    [
        ("workflow", [], None, None),
        ("workflowtemplate", [], None, None),
        ("workflow", ["--destination", "s3://out/a"], None, "s3://out/a"),
        # A CronWorkflow runs unattended: the flags' locations, else the spec's.
        ("cronworkflow", [], "s3://my-bucket/photos", "s3://my-bucket/augmented"),
        ("cronworkflow", ["--source", "s3://in/p"], "s3://in/p", "s3://my-bucket/augmented"),
    ],
)
def test_source_and_destination_values(spec_file, capsys, kind, flags, source, destination):
    code, out, _ = render([str(spec_file), "--kind", kind, *flags], capsys)
    assert code == 0
    manifest = yaml.safe_load(out)
    spec = manifest["spec"]["workflowSpec"] if kind == "cronworkflow" else manifest["spec"]
    values = {p["name"]: p.get("value") for p in spec["arguments"]["parameters"]}
    assert (values["source"], values["destination"]) == (source, destination)


# -- bad input: exit 2, naming the field ------------------------------------------------------


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--kind", "cronworkflow", "--schedule", "0 25 * * *"],
            'kaleidoscope: --schedule: bad value "0 25 * * *": hour 25 is out of range 0-23',
        ),
        (
            ["--kind", "cronworkflow", "--schedule", "every night"],
            'kaleidoscope: --schedule: bad value "every night": expected 5 fields',
        ),
        (
            ["--kind", "cronworkflow", "--timezone", "Mars/Olympus"],
            'kaleidoscope: --timezone: bad value "Mars/Olympus": not an IANA time zone name',
        ),
        (
            ["--kind", "cronworkflow", "--concurrency-policy", "Sometimes"],
            'kaleidoscope: --concurrency-policy: bad value "Sometimes": must be one of Allow, Forbid, Replace',
        ),
        (
            ["--schedule", "0 2 * * *"],
            "kaleidoscope: --schedule: only a cronworkflow has a schedule (add --kind cronworkflow)",
        ),
        (["--name", "Nightly_Run"], 'kaleidoscope: --name: bad value "Nightly_Run"'),
        (
            ["--image-pull-policy", "Sometimes"],
            'kaleidoscope: --image-pull-policy: bad value "Sometimes": must be one of Always, IfNotPresent, Never',
        ),
        (["--augment-cpu", "two"], "kaleidoscope: --augment-cpu: bad value 'two'"),
        (["--augment-memory", "8 GB"], "kaleidoscope: --augment-memory: bad value '8 GB'"),
        (["--toleration", "spot:Sometimes"], 'kaleidoscope: --toleration: bad value "Sometimes"'),
        (["--destination", "s3://my-bucket/photos/out"], "kaleidoscope: destination: bad value"),
        (
            ["--kind", "cronworkflow", "--schedule", "CRON_TZ=Asia/Tokyo 0 9 * * *"],
            'kaleidoscope: --schedule: bad value "CRON_TZ=Asia/Tokyo 0 9 * * *": a CronWorkflow\'s schedules take no '
            'CRON_TZ= prefix (Argo prefixes each with CRON_TZ=<timezone>, and refuses a second one): give "0 9 * * *" '
            'and set `--timezone` to "Asia/Tokyo"',
        ),
        (["--pending-timeout", "15 minutes"], 'kaleidoscope: --pending-timeout: bad value "15 minutes"'),
        (["--augment-memory-cap", "2Gi"], 'kaleidoscope: --augment-memory-cap: bad value "2Gi": below the augment'),
        (["--augment-memory-cap", "lots"], 'kaleidoscope: --augment-memory-cap: bad value "lots"'),
        (["--instance", "ml prod"], 'kaleidoscope: --instance: bad value "ml prod"'),
        (["--part-of=vision_"], 'kaleidoscope: --part-of: bad value "vision_"'),
        (["--service-account", "Runner"], 'kaleidoscope: --service-account: bad value "Runner"'),
    ],
)
def test_bad_options_and_schedules_exit_2_naming_the_field(spec_file, capsys, extra, message):
    code, out, err = render([str(spec_file), *extra], capsys)
    assert code == 2 and out == ""
    assert message in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--kind", "cron"], "argument --kind: invalid choice: 'cron'"),
        (["--parallelism", "0"], "argument --parallelism: bad value 0: must be >= 1"),
        (["--retries", "-1"], "argument --retries: bad value -1: must be >= 0"),
        (["--node-selector", "pool"], "argument --node-selector: bad value 'pool': use KEY=VALUE"),
        (["--incremental", "maybe"], "argument --incremental: invalid choice: 'maybe'"),
        (["--s3-secret", "x", "--no-s3-secret"], "not allowed with argument"),
        (["--no-mutex", "--mutex-database"], "not allowed with argument"),
        (["--pending-timeout", "5m", "--no-pending-timeout"], "not allowed with argument"),
        (["--augment-memory-cap", "8Gi", "--no-augment-memory-growth"], "not allowed with argument"),
        (["--service-account", "a", "--no-service-account"], "not allowed with argument"),
    ],
)
def test_unknown_option_values_exit_2(spec_file, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        main(["render", str(spec_file), *argv])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_an_invalid_spec_exits_2_with_its_json_paths(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(argo_golden.EXAMPLE_SPEC.replace("quality: 90", "quality: 900").replace("size: 512", "size: 2"))
    code, out, err = render([str(spec), "--kind", "cronworkflow", "--schedule", "99 * * * *"], capsys)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert any(line.startswith("kaleidoscope: output.quality: bad value 900") for line in lines), err
    assert any(line.startswith("kaleidoscope: normalize.size: bad value 2") for line in lines), err
    assert any(line.startswith('kaleidoscope: --schedule: bad value "99 * * * *"') for line in lines), err


def test_a_missing_spec_file_exits_2(tmp_path, capsys):
    code, _, err = render([str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "cannot read the spec" in err


def test_an_unwritable_output_exits_1(spec_file, tmp_path, capsys):
    code, _, err = render([str(spec_file), "-o", str(tmp_path / "no" / "such" / "dir" / "wf.yaml")], capsys)
    assert code == 1 and "cannot write" in err


def test_a_spec_that_is_not_yaml_is_named_with_its_line(tmp_path, capsys):
    spec = tmp_path / "broken.yaml"
    spec.write_text("source: [unclosed\n")
    code, _, err = render([str(spec)], capsys)
    assert code == 2 and err.startswith(f"kaleidoscope: {spec}:2:1: not valid YAML or JSON")
