"""The ``depends`` expression of a DAG task: its grammar, the tasks it names, its evaluation.

An expression combines operands, ``task`` or ``task.Result``, with ``&&``, ``||``, ``!`` and
parentheses (Argo's docs/enhanced-depends-logic.md). Argo reads the operands with one lexer
(``GetTaskDependencies`` in ``workflow/common/ancestry.go``): a task name is Argo's field name
(:data:`.names.FIELD_NAME`: letters, digits and ``-``; no ``_``), a result starts with a capital
letter. :func:`operands` is that lexer; :func:`parse` reads the whole expression with it.

A bare ``task`` means ``(task.Succeeded || task.Skipped || task.Daemoned)``, widened by the
task's ``continueOn`` (``.Errored``, ``.Failed``), as Argo's ``expandDependency`` does;
``dependencies: [A, B]`` is ``A && B``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kaleidoscope.workflows.rules.names import FIELD_NAME

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
#: Results about a fan-out's items: Argo refuses them for a task that does not loop.
ITEM_RESULTS = ("AnySucceeded", "AllFailed")
_OPERAND = re.compile(rf"({FIELD_NAME})\.([A-Z][a-zA-Z]+)|({FIELD_NAME})")
_OPERATOR = re.compile(r"&&|\|\||!|\(|\)")


@dataclass(frozen=True)
class Ref:
    """An operand: a task, with the result it asks for (None: a bare name)."""

    task: str
    result: str | None


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class And:
    left: object
    right: object


@dataclass(frozen=True)
class Or:
    left: object
    right: object


def _ref(match: re.Match) -> Ref:
    if match.group(3):
        return Ref(match.group(3), None)
    return Ref(match.group(1), match.group(2))


def operands(text: str) -> list[Ref]:
    """Every operand of ``text`` as Argo's lexer finds them, whatever stands between them.

    Argo's validation checks the tasks and results found so (the expression's syntax is only
    met when it is evaluated): ``a_b`` is the two operands ``a`` and ``b``.
    """
    return [_ref(match) for match in _OPERAND.finditer(text)]


def parse(text: str):
    """Parse a depends expression into a tree of :class:`Ref`, :class:`Not`, :class:`And`, :class:`Or`.

    Raises:
        ValueError: the expression is malformed or names an unknown result.
    """
    text = text.strip()
    tokens: list = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _OPERATOR.match(text, position) or _OPERAND.match(text, position)
        if match is None:
            raise ValueError(f"unexpected {text[position:]!r} in depends {text!r}")
        if match.re is _OPERATOR:
            tokens.append(match.group())
        else:
            ref = _ref(match)
            if ref.result is not None and ref.result not in RESULTS:
                raise ValueError(
                    f"task result '{ref.result}' for task '{ref.task}' is invalid (one of {', '.join(RESULTS)})"
                )
            tokens.append(ref)
        position = match.end()
    if not tokens:
        raise ValueError("empty depends expression")
    parser = _Parser(tokens, text)
    tree = parser.disjunction()
    if parser.index != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.index]!r} in depends {text!r}")
    return tree


class _Parser:
    """Precedence: ``!`` over ``&&`` over ``||``."""

    def __init__(self, tokens: list, text: str):
        self.tokens, self.text, self.index = tokens, text, 0

    def _peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def disjunction(self):
        left = self.conjunction()
        while self._peek() == "||":
            self.index += 1
            left = Or(left, self.conjunction())
        return left

    def conjunction(self):
        left = self.unary()
        while self._peek() == "&&":
            self.index += 1
            left = And(left, self.unary())
        return left

    def unary(self):
        token = self._peek()
        self.index += 1
        if token == "!":
            return Not(self.unary())
        if token == "(":
            inner = self.disjunction()
            if self._peek() != ")":
                raise ValueError(f"missing ')' in depends {self.text!r}")
            self.index += 1
            return inner
        if isinstance(token, Ref):
            return token
        raise ValueError(f"expected a task name in depends {self.text!r}")


def from_dependencies(names: list[str]):
    """The expression equivalent to a ``dependencies`` list (None for none)."""
    tree: Ref | And | None = None
    for name in names:
        tree = Ref(name, None) if tree is None else And(tree, Ref(name, None))
    return tree


def tasks(tree) -> list[str]:
    """Task names the expression refers to, first appearance first."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, Ref):
            if node.task not in found:
                found.append(node.task)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, (And, Or)):
            walk(node.left)
            walk(node.right)

    if tree is not None:
        walk(tree)
    return found


def item_result_tasks(text: str) -> list[str]:
    """Tasks whose items' results (``.AnySucceeded``, ``.AllFailed``) ``text`` asks for.

    Argo's validation (``validateDAG`` in ``workflow/validate/validate.go``) refuses them unless
    the task loops (:func:`.loops.has_loop`).
    """
    return list(dict.fromkeys(ref.task for ref in operands(text) if ref.result in ITEM_RESULTS))


@dataclass(frozen=True)
class TaskResults:
    """What a finished dependency offers to an expression (Argo's ``TaskResults``)."""

    phase: str
    children: tuple[str, ...] = ()  # phases of a fan-out's items

    def value(self, result: str) -> bool:
        """Whether the dependency has ``result`` (one of :data:`RESULTS`)."""
        if result == "AnySucceeded":
            return any(phase == "Succeeded" for phase in self.children)
        if result == "AllFailed":
            return bool(self.children) and all(phase == "Failed" for phase in self.children)
        if result == "Daemoned":
            return False  # daemon containers are refused locally
        return self.phase == {"Errored": "Error"}.get(result, result)


def bare_results(continue_on: Mapping | None) -> tuple[str, ...]:
    """What a bare task name accepts, given that task's ``continueOn``."""
    results = ["Succeeded", "Skipped", "Daemoned"]
    if continue_on and continue_on.get("error"):
        results.append("Errored")
    if continue_on and continue_on.get("failed"):
        results.append("Failed")
    return tuple(results)


def evaluate(tree, results: Mapping[str, TaskResults], continue_on: Mapping[str, Mapping | None]) -> bool:
    """Whether a task with this expression runs, given its dependencies' results.

    Args:
        tree: A parsed expression (:func:`parse`, :func:`from_dependencies`).
        results: Each dependency's results.
        continue_on: Each task's ``continueOn`` (widens what a bare name accepts).
    """
    if isinstance(tree, Ref):
        outcome = results[tree.task]
        if tree.result is None:
            return any(outcome.value(result) for result in bare_results(continue_on.get(tree.task)))
        return outcome.value(tree.result)
    if isinstance(tree, Not):
        return not evaluate(tree.operand, results, continue_on)
    if isinstance(tree, And):
        return evaluate(tree.left, results, continue_on) and evaluate(tree.right, results, continue_on)
    return evaluate(tree.left, results, continue_on) or evaluate(tree.right, results, continue_on)


def describe(tree, continue_on: Mapping[str, Mapping | None]) -> str:
    """The expression with bare names expanded, as Argo resolves it (for messages)."""
    if isinstance(tree, Ref):
        if tree.result:
            return f"{tree.task}.{tree.result}"
        return "(" + " || ".join(f"{tree.task}.{r}" for r in bare_results(continue_on.get(tree.task))) + ")"
    if isinstance(tree, Not):
        return "!" + describe(tree.operand, continue_on)
    operator = " && " if isinstance(tree, And) else " || "
    return "(" + describe(tree.left, continue_on) + operator + describe(tree.right, continue_on) + ")"
