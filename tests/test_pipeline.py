"""Kaleidoscope inside a user's own pipeline: the documented examples, rendered, checked and run.

The README's example (a task calling the installed WorkflowTemplate by ``templateRef``, then a
stand-in training step reading the manifest) and docs/argo.md's (the templates included, two
tasks into two destinations) are taken from the pages as written, their ``s3://my-bucket/...``
locations replaced by local folders; each is rendered, validated against Argo's JSON schema in
strict mode and the project's lint, and run by the local executor (the ``templateRef`` against
the committed ``workflows/kaleidoscope-workflowtemplate.yaml``).
"""

from __future__ import annotations

import json
import re
import runpy
import tempfile
from pathlib import Path

import pytest
import yaml
from hera.workflows import DAG, Workflow
from hera.workflows.models import TemplateRef

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows import pipeline
from kaleidoscope.workflows.argo.options import BuildOptions
from kaleidoscope.workflows.executor import execute
from kaleidoscope.workflows.lint import lint
from tests.argo_schema import assert_valid
from tests.conftest import BAD_IMAGES, GOOD_IMAGES, read_records
from tools import argo_golden

ROOT = Path(__file__).parents[1]
SECRETS = {"kaleidoscope-s3": {"accessKeyId": "unused-locally", "secretAccessKey": "unused-locally"}}
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w ]+) \(.*?\) -->\n```python\n(?P<code>.*?)```", re.S)


@pytest.fixture(autouse=True)
def _quick_and_private(tmp_path, monkeypatch):
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    monkeypatch.setenv("KALEIDOSCOPE_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # failed runs keep their node folders here


def example(page: str, name: str) -> str:
    found = {match["name"]: match["code"] for match in _EXAMPLE.finditer((ROOT / page).read_text(encoding="utf-8"))}
    return found[name]


def build_example(code: str, locations: dict[str, Path], spec_document: dict, folder: Path, monkeypatch) -> Workflow:
    """Run the example's code as a file (Hera's @script reads its function's source), in a folder
    holding its spec.yaml, with local folders for its locations; return its workflow ``w``."""
    for location, path in locations.items():
        assert code.count(f'"{location}"') == 1, location
        code = code.replace(f'"{location}"', repr(str(path)))
    folder.mkdir()
    spec = {key: value for key, value in spec_document.items() if key not in ("source", "destination")}
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    (folder / "example.py").write_text(code)
    monkeypatch.chdir(folder)
    return runpy.run_path(str(folder / "example.py"))["w"]


def checked(w: Workflow) -> dict:
    """The workflow's manifest, after Argo's strict schema and the lint."""
    manifest = pipeline.manifest(w)
    assert_valid(manifest)
    assert lint(manifest) == []
    assert yaml.safe_load(pipeline.render(w)) == manifest
    return manifest


def summary_of(outputs: dict) -> dict:
    return json.loads(Path(outputs["summary"].removeprefix("file://")).read_text())


def task(result, name: str):
    """The node of the pipeline's task ``name`` (main's own tasks may have the same names)."""
    [node] = [node for node in result.nodes if node.name == f"{result.name}.{name}"]
    return node


def run_ids(result) -> set[str]:
    """The run ids the run's pods were given."""
    return {node.inputs["run-id"] for node in result.nodes if node.type == "Pod" and "run-id" in node.inputs}


def records_per_input(spec_document: dict) -> int:
    return 2 ** len(spec_document["transforms"])


def test_the_readme_example_runs_by_template_ref_against_the_committed_workflow_template(
    photos, spec_document, tmp_path, monkeypatch, capsys
):
    destination = tmp_path / "augmented"
    code = example("README.md", "templateRef")
    assert len(code.splitlines()) <= 20
    w = build_example(
        code,
        {"s3://my-bucket/photos": photos, "s3://my-bucket/augmented": destination},
        spec_document,
        tmp_path / "user",
        monkeypatch,
    )
    assert "kind: Workflow" in capsys.readouterr().out  # it prints its manifest
    manifest = checked(w)
    first = manifest["spec"]["templates"][0]["dag"]["tasks"][0]
    assert first["templateRef"] == {"name": "kaleidoscope", "template": "main"}
    result = execute(manifest, templates=[argo_golden.FILES["workflowtemplate"]], secrets=SECRETS, show_progress=False)
    assert result.phase == "Succeeded", result.message
    records = read_records(destination)
    assert len(records) == GOOD_IMAGES * records_per_input(spec_document)
    outputs = task(result, "augment").outputs
    assert (outputs["outputs"], outputs["failed"]) == (str(len(records)), str(BAD_IMAGES))
    assert Path(outputs["manifest"].removeprefix("file://")).is_relative_to(destination / "manifest")
    # The stand-in read the manifest at the URL it was given, and found every record.
    assert result.node("train").stdout_tail[-1] == f"{len(records)} records"
    assert summary_of(outputs)["run_id"] == f"{result.uid}-augment"
    assert run_ids(result) == {f"{result.uid}-augment"}
    assert result.outputs == {}  # nothing lifted to the workflow's outputs


def test_the_included_example_runs_two_tasks_into_two_destinations_with_their_own_run_ids(
    photos, spec_document, tmp_path, monkeypatch
):
    cats, dogs = tmp_path / "augmented-cats", tmp_path / "augmented-dogs"
    w = build_example(
        example("docs/argo.md", "included"),
        {
            "s3://my-bucket/cats": photos,
            "s3://my-bucket/augmented-cats": cats,
            "s3://my-bucket/dogs": photos,
            "s3://my-bucket/augmented-dogs": dogs,
        },
        spec_document,
        tmp_path / "user",
        monkeypatch,
    )
    manifest = checked(w)
    names = [template["name"] for template in manifest["spec"]["templates"]]
    assert names[:4] == ["kaleidoscope-main", "kaleidoscope-shard", "kaleidoscope-augment", "kaleidoscope-manifest"]
    main = manifest["spec"]["templates"][0]
    assert main["parallelism"] == 10  # the example's options
    pods = manifest["spec"]["templates"][1:4]
    assert {template["serviceAccountName"] for template in pods} == {"kaleidoscope"}  # not ml-pipeline
    assert all("pendingTimeout" in template for template in pods)  # kept by pipeline.manifest
    result = execute(manifest, secrets=SECRETS, show_progress=False)  # nothing installed: no templates given
    assert result.phase == "Succeeded", result.message
    expected = GOOD_IMAGES * records_per_input(spec_document)
    assert len(read_records(cats)) == len(read_records(dogs)) == expected
    assert {summary_of(task(result, name).outputs)["run_id"] for name in ("cats", "dogs")} == {
        f"{result.uid}-cats",
        f"{result.uid}-dogs",
    }  # distinct, not just the uid
    assert run_ids(result) == {f"{result.uid}-cats", f"{result.uid}-dogs"}
    for name, destination in (("cats", cats), ("dogs", dogs)):
        assert Path(task(result, name).outputs["manifest"].removeprefix("file://")).is_relative_to(destination)
    assert result.node("train").stdout_tail[-2:] == [f"{expected} records"] * 2
    assert result.outputs == {}


def test_two_template_ref_tasks_into_one_destination_take_turns_and_keep_apart(photos, spec_document, tmp_path):
    # main's mutex holds under templateRef: the second call waits for the first, and each is a run
    # of its own (its own id and manifest parts): the second, incremental, finds nothing new.
    destination = tmp_path / "augmented"
    spec = {key: value for key, value in spec_document.items() if key not in ("source", "destination")}
    with Workflow(generate_name="twice-", entrypoint="pipeline") as w, DAG(name="pipeline"):
        for name, incremental in (("first", False), ("again", True)):
            pipeline.kaleidoscope_task(
                name, source=str(photos), destination=str(destination), spec=spec, incremental=incremental
            )
    manifest = checked(w)
    result = execute(manifest, templates=[argo_golden.FILES["workflowtemplate"]], secrets=SECRETS, show_progress=False)
    assert result.phase == "Succeeded", result.message
    first, again = task(result, "first"), task(result, "again")
    assert first.finished_at <= again.started_at or again.finished_at <= first.started_at  # one after the other
    assert run_ids(result) == {f"{result.uid}-first", f"{result.uid}-again"}
    assert len(read_records(destination)) == GOOD_IMAGES * records_per_input(spec_document)
    # Whichever ran second was incremental or found the destination already full: nothing doubled.
    assert sorted(int(node.outputs["outputs"]) for node in (first, again))[0] in (0, len(read_records(destination)))


# -- the API's contract ---------------------------------------------------------------------------


def task_in(w_name: str = "w", **arguments):
    with Workflow(name=w_name, entrypoint="pipeline") as w, DAG(name="pipeline"):
        task = pipeline.kaleidoscope_task(**arguments)
    return w, task


SPEC = "transforms: [flip_lr]\n"


def test_a_template_ref_task_passes_every_input_and_names_its_outputs():
    w, task = task_in(
        name="augment",
        source="{{workflow.parameters.photos}}",
        destination="s3://b/out",
        spec=SPEC,
        s3_endpoint="http://minio:9000",
        incremental=True,
        template_ref=TemplateRef(name="kaleidoscope-prod", template="main", cluster_scope=True),
    )
    [rendered] = pipeline.manifest(w)["spec"]["templates"][0]["dag"]["tasks"]
    assert rendered["templateRef"] == {"name": "kaleidoscope-prod", "template": "main", "clusterScope": True}
    assert {p["name"]: p["value"] for p in rendered["arguments"]["parameters"]} == {
        "spec": SPEC,
        "source": "{{workflow.parameters.photos}}",
        "destination": "s3://b/out",
        "s3-endpoint": "http://minio:9000",
        "incremental": "true",
        "name": "augment",
    }
    for name in pipeline.OUTPUTS:
        assert task.get_parameter(name).value == f"{{{{tasks.augment.outputs.parameters.{name}}}}}"
    with pytest.raises(KeyError, match="no output parameter 'records'"):
        task.get_parameter("records")


def test_the_arguments_match_mains_inputs_and_the_outputs_its_outputs():
    main = yaml.safe_load(argo_golden.FILES["workflowtemplate"].read_text())["spec"]["templates"][0]
    w, _ = task_in(name="augment", source="s3://b/in", destination="s3://b/out", spec=SPEC)
    [rendered] = pipeline.manifest(w)["spec"]["templates"][0]["dag"]["tasks"]
    assert [p["name"] for p in rendered["arguments"]["parameters"]] == [p["name"] for p in main["inputs"]["parameters"]]
    assert list(pipeline.OUTPUTS) == [p["name"] for p in main["outputs"]["parameters"]]


def test_every_problem_of_a_task_is_refused_at_once_naming_its_field():
    with pytest.raises(InvalidInput) as caught:
        task_in(
            name="Bad_Name",
            source="",
            destination="s3://b/out",
            spec=SPEC,
            incremental="yes",
            template_ref=TemplateRef(name="k", template="main"),
            template=DAG(name="x"),
        )
    fields = [problem.split(":")[0] for problem in caught.value.problems]
    assert fields == ["name", "source", "incremental", "template, template_ref"], caught.value.problems
    with pytest.raises(InvalidInput) as caught:
        task_in(name="a", source="s3://b/in", destination="s3://b/in/out", spec="transforms: [nope]")
    assert all(problem.startswith("spec: ") for problem in caught.value.problems), caught.value.problems
    assert any("nope" in problem for problem in caught.value.problems)
    assert any("destination" in problem for problem in caught.value.problems)  # inside the source
    with pytest.raises(InvalidInput, match=r"run_name: bad value 'a b'"):
        task_in(name="a", source="s3://b/in", destination="s3://b/out", spec=SPEC, run_name="a b")
    with pytest.raises(InvalidInput, match=r"name: bad value .*at most 91 characters"):
        task_in(name="a" * 92, source="s3://b/in", destination="s3://b/out", spec=SPEC)


def test_a_spec_or_locations_given_as_variables_are_left_to_the_run():
    w, _ = task_in(
        name="augment",
        source="{{workflow.parameters.photos}}",
        destination="{{workflow.parameters.out}}",
        spec="{{workflow.parameters.spec}}",
        run_name="augment-{{workflow.parameters.run}}",
    )
    [rendered] = pipeline.manifest(w)["spec"]["templates"][0]["dag"]["tasks"]
    arguments = {p["name"]: p["value"] for p in rendered["arguments"]["parameters"]}
    assert arguments["spec"] == "{{workflow.parameters.spec}}"
    assert arguments["name"] == "augment-{{workflow.parameters.run}}"


def test_add_templates_refuses_a_clash_bad_options_and_a_bad_prefix():
    with Workflow(name="w", entrypoint="pipeline") as w:
        pipeline.add_templates(w)
        with pytest.raises(InvalidInput, match="already has templates named kaleidoscope-augment, kaleidoscope-main"):
            pipeline.add_templates(w)
        again = pipeline.add_templates(w, prefix="second-")
    assert again.name == "second-main"
    with pytest.raises(InvalidInput) as caught:
        pipeline.add_templates(Workflow(name="w"), BuildOptions(retries=-1), prefix="Bad_")
    assert [problem.split(":")[0] for problem in caught.value.problems] == ["retries", "prefix"]


def test_included_templates_are_the_workflow_templates_own():
    # The same templates as the committed WorkflowTemplate's, but for their names.
    committed = yaml.safe_load(argo_golden.FILES["workflowtemplate"].read_text())["spec"]["templates"]
    with Workflow(name="w", entrypoint="kaleidoscope-main") as w:
        pipeline.add_templates(w)
    included = pipeline.manifest(w)["spec"]["templates"]
    for template in included:
        template["name"] = template["name"].removeprefix(pipeline.PREFIX)
        for dag_task in (template.get("dag") or {}).get("tasks") or []:
            dag_task["template"] = dag_task["template"].removeprefix(pipeline.PREFIX)
    assert included == committed
