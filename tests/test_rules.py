"""The shared model of Argo's rules, module by module, and what it may import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kaleidoscope.workflows.rules import cron, dag, depends, durations, names, variables

WORKFLOWS = Path(__file__).parents[1] / "workflows"

# -- durations (Go's time.ParseDuration) -------------------------------------------------------


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("300ms", 0.3),
        ("-1.5h", -5400),
        ("+2h45m", 9900),
        ("1h0m0.5s", 3600.5),
        ("2μs", 2e-6),
        ("2µs", 2e-6),
        ("-0", 0),
    ],
)
def test_go_durations(text, seconds):
    assert durations.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "00", "s", ".s", "1 s", " 1s", "1d", "1S", "1m-1s", "--1s", "1e3s", "١s"])
def test_not_go_durations(text):
    with pytest.raises(ValueError, match="bad duration"):
        durations.parse(text)


def test_a_duration_longer_than_go_can_hold_is_refused():
    durations.parse("2562047h")
    with pytest.raises(ValueError, match="292 years"):
        durations.parse("2562048h")


@pytest.mark.parametrize("value, seconds", [(30, 30), ("30", 30), ("-5", -5), ("+5", 5), ("1m", 60), (1.5, 1.5)])
def test_argo_durations_are_seconds_first(value, seconds):
    assert durations.parse_argo(value) == seconds


@pytest.mark.parametrize("value", [True, "30 s", "1.5", ""])
def test_not_argo_durations(value):
    with pytest.raises(ValueError, match="whole number of seconds or a Go duration"):
        durations.parse_argo(value)


@pytest.mark.parametrize("text", ["0", "30s", "1.5h", ".5s", "1.s", "1µs", "1μs", "-1s", "+1s", "1", "1 s", "", "1d"])
def test_the_unsigned_pattern_is_the_parser_less_the_sign(text):
    try:
        durations.parse(text)
        parses = not text.startswith(("-", "+"))
    except ValueError:
        parses = False
    assert (re.fullmatch(durations.UNSIGNED, text) is not None) == parses


# -- cron (robfig/cron's standard parser) -----------------------------------------------------


@pytest.mark.parametrize(
    "expression, valid",
    [
        ("@every 1μs", True),
        ("@every .5h", True),
        ("@every -1h", True),  # robfig rounds anything under a second up to one second
        ("@every 0", True),
        ("@every1h", False),  # robfig needs the space
        ("@every  1h", False),  # ...and only one: the rest is read whole
        ("@every 1h ", True),  # the whole expression's outer white-space is ignored
        ("@every", False),
        ("CRON_TZ=UTC @every 90s", True),
        ("0 0 * * SUN-sat", True),
        ("0 0 31 2 *", True),  # robfig checks each field's range, not the calendar
    ],
)
def test_cron_check_and_pattern_agree(expression, valid):
    try:
        cron.check(expression)
        checked = True
    except ValueError:
        checked = False
    assert checked is valid
    assert (re.search(cron.pattern(), expression) is not None) is valid


def test_the_cron_pattern_bounds_each_field_as_the_table_does():
    for index, field in enumerate(cron.FIELDS):
        for number in (field.low - 1, field.low, field.high, field.high + 1):
            fields = ["*"] * 5
            fields[index] = str(number)
            expected = field.low <= number <= field.high
            assert (re.search(cron.pattern(), " ".join(fields)) is not None) is expected, (field.name, number)


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, text, expected",
    [
        (names.DNS_LABEL, "kaleidoscope-1", True),
        (names.DNS_LABEL, "Kaleidoscope", False),
        (names.DNS_LABEL, "a.b", False),
        (names.DNS_SUBDOMAIN, "a.b-c", True),
        (names.DNS_SUBDOMAIN, "-a", False),
        (names.LABEL_KEY, "kubernetes.io/arch", True),
        (names.LABEL_KEY, "Node_Pool.x", True),
        (names.LABEL_KEY, "/arch", False),
        (names.LABEL_VALUE, "", True),
        (names.LABEL_VALUE, "a-b_c.d", True),
        (names.LABEL_VALUE, "-a", False),
        (names.FIELD_NAME, "Task-2", True),
        (names.FIELD_NAME, "task_2", False),
    ],
)
def test_name_patterns(pattern, text, expected):
    assert names.matches(pattern, text) is expected


def test_field_names_as_argo_validates_them():
    assert names.field_name_problem("a-1") is None
    assert "no '_'" in (names.field_name_problem("a_1") or "")
    assert "128" in (names.field_name_problem("a" * 129) or "")


# -- depends ----------------------------------------------------------------------------------


def test_operands_are_found_whatever_stands_between_them():
    assert depends.operands("(a || b-2.Failed) && !c.AnySucceeded") == [
        depends.Ref("a", None),
        depends.Ref("b-2", "Failed"),
        depends.Ref("c", "AnySucceeded"),
    ]
    # A result starts with a capital letter; otherwise Argo reads another task name.
    assert depends.operands("a.succeeded") == [depends.Ref("a", None), depends.Ref("succeeded", None)]


def test_item_result_tasks():
    assert depends.item_result_tasks("a.AnySucceeded || b.AllFailed && a.AllFailed || c") == ["a", "b"]


# -- the DAG graph ----------------------------------------------------------------------------


def test_ancestors_cycles_and_leaves():
    upstream = {"a": [], "b": ["a"], "c": ["b", "a"], "d": ["c", "x"]}
    assert dag.ancestors("d", upstream) == ["c", "b", "a"]  # nearest first; "x" is no task
    assert dag.cycles(upstream) == []
    assert dag.leaves(upstream) == ["d"]
    looped = {"a": ["c"], "b": ["a"], "c": ["b"], "d": ["d"]}
    assert dag.cycles(looped) == [["a", "c", "b", "a"], ["d", "d"]]
    assert "a" not in dag.ancestors("a", looped)


# -- tags ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, found",
    [
        ("{{a}} and {{ b }}", ["a", " b "]),
        ("{{a {{b}}", ["a {{b"]),  # fasttemplate: from {{ to the first }} after it
        ("{{a}} {{b", ["a", None]),
        ("}} {{", [None]),
        ("no tags", []),
    ],
)
def test_tags_as_fasttemplate_reads_them(text, found):
    assert list(variables.tags(text)) == found


def test_node_variables_follow_the_template_kind():
    script = {"name": "s", "script": {"image": "x", "source": ""}, "outputs": {"parameters": [{"name": "p"}]}}
    offered = variables.node_variables("steps", "gen", script, looped=True)
    assert {"steps.gen.outputs.result", "steps.gen.exitCode", "steps.gen.outputs.parameters.p"} <= offered
    assert "steps.gen.outputs.parameters" in offered
    steps = {"name": "inner", "steps": [[]]}
    assert variables.node_variables("tasks", "t", steps, looped=False) == {
        f"tasks.t.{field}" for field in variables.NODE_FIELDS
    }


# -- what the rules and the executor may import --------------------------------------------------


def _imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
    return found


def test_the_rules_import_nothing_of_kaleidoscope_nor_heavy_libraries():
    for module in _imports(WORKFLOWS / "rules"):
        assert not module.startswith(("hera", "cv2", "numpy")), module
        if module.startswith("kaleidoscope."):
            assert module.startswith(("kaleidoscope.workflows.rules", "kaleidoscope.steps.errors")), module


def test_the_executor_imports_only_its_error_type_and_the_rules():
    for module in _imports(WORKFLOWS / "executor"):
        if module.startswith("kaleidoscope."):
            allowed = ("kaleidoscope.workflows.executor", "kaleidoscope.workflows.rules", "kaleidoscope.steps.errors")
            assert module.startswith(allowed), module


def test_the_executor_modules_import_each_other_without_a_cycle():
    prefix = "kaleidoscope.workflows.executor"
    upstream: dict[str, list[str]] = {}
    for path in sorted((WORKFLOWS / "executor").glob("*.py")):
        imported: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # lazy imports too
            if isinstance(node, ast.ImportFrom) and node.module == prefix:
                imported += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(prefix + "."):
                imported.append(str(node.module).removeprefix(prefix + "."))
        upstream[path.stem] = [name for name in imported if name != path.stem]
    upstream.pop("__init__")  # the package's entry point imports its modules; none imports it back
    assert dag.cycles(upstream) == []
