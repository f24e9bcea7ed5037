"""Template tags, loop items and aggregated fan-out outputs, as Argo forms them."""

from __future__ import annotations

import pytest

from kaleidoscope.workflows.executor import loops, scope, variables
from kaleidoscope.workflows.executor.nodes import Node
from kaleidoscope.workflows.rules.variables import is_expression, names, strings


def test_substitute_replaces_tags_with_and_without_inner_spaces():
    values = {"inputs.parameters.message": "hi", "workflow.name": "wf-1"}
    text = "{{inputs.parameters.message}} from {{ workflow.name }}"
    assert variables.substitute(text, values) == "hi from wf-1"


def test_substitute_does_not_substitute_inside_substituted_values():
    values = {"a": "{{b}}", "b": "no"}
    assert variables.substitute("{{a}}", values) == "{{b}}"


def test_unknown_variable_is_unresolved_naming_it():
    with pytest.raises(variables.Unresolved, match=r"failed to resolve \{\{inputs.parameters.mesage\}\}"):
        variables.substitute("{{inputs.parameters.mesage}}", {"inputs.parameters.message": "x"})


def test_keep_leaves_loop_tags_for_later():
    text = "{{item.name}} of {{workflow.name}}"
    partial = variables.substitute(text, {"workflow.name": "wf"}, keep=lambda name: name.startswith("item"))
    assert partial == "{{item.name}} of wf"
    assert variables.substitute(partial, {"item.name": "a"}) == "a of wf"


def test_absent_and_broken_values_fail_when_used_only():
    values = {"gone": variables.ABSENT, "bad": variables.Broken("cannot aggregate"), "ok": "1"}
    assert variables.substitute("{{ok}}", values) == "1"
    with pytest.raises(variables.Absent):
        variables.substitute("x{{gone}}", values)
    with pytest.raises(ValueError, match="cannot aggregate"):
        variables.substitute("{{bad}}", values)


def test_names_and_strings_walk_a_yaml_value_with_paths():
    value = {"args": ["{{a}}", "b"], "env": [{"value": "{{=expr}}"}]}
    found = {(path, name) for path, text in strings(value, "t") for name in names(text)}
    assert found == {("t.args[0]", "a"), ("t.env[0].value", "=expr")}
    assert is_expression("=expr")


@pytest.mark.parametrize(
    "item, expected_item, description",
    [
        ("hello world", "hello world", "hello world"),
        (3, "3", "3"),
        (2.5, "2.5", "2.5"),
        (True, "true", "true"),
        ("f(x)", "f(x)", "fx"),  # parentheses are dropped from node names only
        ([1, "a"], '[1,"a"]', "[1 a]"),
    ],
)
def test_scalar_and_list_items(item, expected_item, description):
    values, text = loops.item_values(loops.items({"withItems": [item]})[0])
    assert values == {"item": expected_item}
    assert text == description


def test_map_item_gives_fields_sorted_json_and_sorted_description():
    item = loops.items({"withParam": '[{"tag": "9.1", "image": "debian", "n": 1.0, "x": {"b": 1, "a": 2}}]'})[0]
    values, description = loops.item_values(item)
    assert values["item.image"] == "debian"
    assert values["item.n"] == "1.0"  # a JSON number keeps how it was written
    assert values["item.x"] == '{"b":1,"a":2}'  # nested values keep their key order
    assert values["item"] == '{"image":"debian","n":1.0,"tag":"9.1","x":{"b":1,"a":2}}'
    assert description == 'image:debian,n:1.0,tag:9.1,x:{"b":1,"a":2}'


def test_with_param_must_be_a_json_list():
    with pytest.raises(ValueError, match="withParam value could not be parsed as a JSON list"):
        loops.items({"withParam": "not json"})
    with pytest.raises(ValueError, match="JSON list"):
        loops.items({"withParam": '{"a": 1}'})


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"count": "3"}, ["0", "1", "2"]),
        ({"start": 5, "end": 8}, ["5", "6", "7", "8"]),
        ({"start": "3", "end": "1"}, ["3", "2", "1"]),  # counts down when end < start
        ({"count": 2, "start": 9, "format": "file-%02d"}, ["file-09", "file-10"]),
        ({"count": 0}, []),
    ],
)
def test_with_sequence(spec, expected):
    assert loops.sequence(spec) == expected


def _item(index: int, outputs=None, result=None, phase="Succeeded") -> Node:
    return Node(
        f"id{index}",
        f"wf.t({index}:{index})",
        f"t({index}:{index})",
        "Pod",
        "t",
        phase,
        outputs=outputs or {},
        result=result,
    )


def test_aggregated_parameters_and_results_as_argo_forms_them():
    children = [
        _item(0, {"out": "a", "n": "1"}, '{"k": 1}'),
        _item(1, {"out": "b", "n": "2"}, '{"k": 2}', phase="Failed"),  # only succeeded items count
        _item(2, {"out": "c<d", "n": "3"}, "[1, 2]"),
    ]
    values = scope.aggregate("tasks", "t", children)
    # A list of {name: value} maps, keys sorted, HTML characters escaped as Go's json.Marshal does.
    assert values["tasks.t.outputs.parameters"] == '[{"n":"1","out":"a"},{"n":"3","out":"c\\u003cd"}]'
    assert values["tasks.t.outputs.parameters.out"] == '["a","c\\u003cd"]'
    # Each result parsed as JSON, compacted.
    assert values["tasks.t.outputs.result"] == '[{"k":1},[1,2]]'


def test_aggregated_values_that_are_all_json_objects_are_parsed():
    children = [_item(0, {"o": '{"b": 2, "a": 1}'}), _item(1, {"o": "[3]"})]
    assert scope.aggregate("steps", "s", children)["steps.s.outputs.parameters.o"] == '[{"a":1,"b":2},[3]]'


def test_a_result_that_is_not_json_cannot_be_aggregated():
    values = scope.aggregate("tasks", "t", [_item(0, result="hello"), _item(1, result="2")])
    with pytest.raises(ValueError, match="is not JSON"):
        variables.substitute("{{tasks.t.outputs.result}}", values)


def test_argument_that_only_refers_to_an_absent_output_is_marked_absent():
    values = {"tasks.a.outputs.parameters.p": variables.ABSENT, "x": "1"}
    step = {
        "arguments": {
            "parameters": [
                {"name": "p", "value": "{{tasks.a.outputs.parameters.p}}"},
                {"name": "q", "value": "{{x}}-{{x}}"},
            ]
        }
    }
    assert scope.arguments(step, values) == {"p": variables.ABSENT, "q": "1-1"}
    embedded = {"arguments": {"parameters": [{"name": "p", "value": "v={{tasks.a.outputs.parameters.p}}"}]}}
    with pytest.raises(variables.Absent):
        scope.arguments(embedded, values)
