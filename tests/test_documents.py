"""Untrusted spec text is parsed at a bounded cost: size, alias expansion and nesting."""

from __future__ import annotations

import pytest
import yaml

from kaleidoscope.steps import documents
from kaleidoscope.steps.errors import InvalidInput

LAUGHS = "\n".join(
    ["a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol','lol']"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]" for i in range(7)]
)


def test_a_spec_parses_as_yaml_does():
    text = "source: ./in\ndestination: ./out\ntransforms: [flip_lr, {op: blur, sigma: [1, 2]}]\nx: &x {a: 1}\ny: *x\n"
    assert documents.parse(text) == yaml.safe_load(text)


def test_alias_expansion_is_refused_before_anything_walks_it():
    assert len(LAUGHS) < 1024  # a 1 kB document that stands for 10^8 strings
    with pytest.raises(InvalidInput) as refused:
        documents.parse(LAUGHS, "bomb.yaml")
    message = str(refused.value)
    assert message.startswith("bomb.yaml: the document expands to more than 10,000 values")
    assert len(message) < 200


def test_an_oversized_document_is_refused_below_the_argument_limit():
    text = "source: ./in\n" + "#" * (documents.MAX_BYTES + 1)
    with pytest.raises(InvalidInput, match=r"at most 65,536 are accepted"):
        documents.parse(text, "big.yaml")
    assert documents.MAX_BYTES * 2 <= 128 * 1024  # room left for the rest of the command line


def test_deep_nesting_is_refused():
    text = "a: " + "[" * 40 + "]" * 40
    with pytest.raises(InvalidInput, match="nests deeper than 32 levels"):
        documents.parse(text)


def test_a_recursive_alias_is_refused():
    with pytest.raises(InvalidInput, match="recursive document"):
        documents.parse("a: &a [1, *a]\n")


def test_a_syntax_error_names_the_line_and_stays_short():
    with pytest.raises(InvalidInput, match=r"^s\.yaml:3:\d+: not valid YAML or JSON") as refused:
        documents.parse("a: 1\nb: [1, 2\nc: 3\n", "s.yaml")
    assert len(str(refused.value)) < 200


def test_excerpts_are_cut():
    assert documents.excerpt("x" * 500) == "x" * 77 + "..."
    assert documents.excerpt("short") == "short"


JSON_SPECS = [
    '{"source": "./in", "destination": "./out", "transforms": ["flip_lr", {"op": "blur", "sigma": [1, 2.5]}]}',
    '{"a": {"b": [true, false, null, -3, 0.25, "ça"]}, "a": 2}',  # a repeated key: the last wins in both
    '  {"quoted \\"key\\"": "\\u00e9\\n"}',
]


@pytest.mark.parametrize("text", JSON_SPECS)
def test_json_is_read_without_pyyaml_to_the_same_document(text, monkeypatch):
    expected = yaml.safe_load(text)
    monkeypatch.setattr(yaml, "SafeLoader", None)  # the YAML path would fail
    assert documents.parse(text) == expected


def test_json_keeps_the_bounds():
    deep = "{" + '"a": {' * 40 + "}" * 41
    with pytest.raises(InvalidInput, match="nests deeper than 32 levels"):
        documents.parse(deep)
    wide = '{"a": [' + ",".join(["1"] * 10_001) + "]}"
    with pytest.raises(InvalidInput, match="more than 10,000 values"):
        documents.parse(wide)
    # Deeper than either parser's recursion: refused as too deep, not a crash.
    for nested in ("{" + '"a": [' * 5000 + "]" * 5000 + "}", "a: " + "[" * 20_000 + "]" * 20_000):
        with pytest.raises(InvalidInput, match="nests deeper than 32 levels"):
            documents.parse(nested)


def test_what_json_refuses_is_read_as_yaml():
    # NaN is no JSON; YAML reads it as a string, as before. A syntax error still names its line.
    assert documents.parse('{"a": NaN}') == {"a": "NaN"}
    with pytest.raises(InvalidInput, match=r"<spec>:2:\d+: not valid YAML"):
        documents.parse('{"a": 1,\n "b": }}')
