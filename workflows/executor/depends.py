"""Argo's enhanced ``depends`` logic for DAG tasks (docs/enhanced-depends-logic.md).

An expression combines ``task`` or ``task.Result`` operands with ``&&``, ``||``, ``!`` and
parentheses. A bare ``task`` means ``(task.Succeeded || task.Skipped || task.Daemoned)``, widened
by the task's ``continueOn`` (``.Failed`` / ``.Errored``), exactly as Argo's ``expandDependency``
does (``workflow/common/ancestry.go``); ``dependencies: [A, B]`` is ``A && B``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([A-Za-z0-9][-A-Za-z0-9_]*)(?:\.([A-Za-z]+))?)")


@dataclass(frozen=True)
class Ref:
    task: str
    result: str | None  # None: a bare name


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


@dataclass(frozen=True)
class TaskResults:
    """What a finished dependency offers to an expression (Argo's ``TaskResults``)."""

    phase: str
    children: tuple[str, ...] = ()  # phases of a fan-out's items

    def value(self, result: str) -> bool:
        if result == "AnySucceeded":
            return any(phase == "Succeeded" for phase in self.children)
        if result == "AllFailed":
            return bool(self.children) and all(phase == "Failed" for phase in self.children)
        if result == "Daemoned":
            return False  # daemon containers are refused locally
        return self.phase == {"Errored": "Error"}.get(result, result)


def parse(text: str):
    """Parse a depends expression.

    Raises:
        ValueError: the expression is malformed or names an unknown result.
    """
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"unexpected {text[position:]!r} in depends {text!r}")
        if match.group(1):
            tokens.append(match.group(1))
        else:
            result = match.group(3)
            if result is not None and result not in RESULTS:
                raise ValueError(
                    f"task result '{result}' for task '{match.group(2)}' is invalid (one of {', '.join(RESULTS)})"
                )
            tokens.append(Ref(match.group(2), result))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    if not tokens:
        raise ValueError("empty depends expression")
    parser = _Parser(tokens, text)
    tree = parser.disjunction()
    if parser.index != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.index]!r} in depends {text!r}")
    return tree


class _Parser:
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
    """The expression equivalent to a ``dependencies`` list."""
    tree = None
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


def bare_results(continue_on: dict | None) -> tuple[str, ...]:
    """What a bare task name accepts, given that task's ``continueOn``."""
    results = ["Succeeded", "Skipped", "Daemoned"]
    if continue_on and continue_on.get("error"):
        results.append("Errored")
    if continue_on and continue_on.get("failed"):
        results.append("Failed")
    return tuple(results)


def evaluate(tree, results: dict[str, TaskResults], continue_on: dict[str, dict | None]) -> bool:
    """Whether a task with this expression runs, given its dependencies' results."""
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


def describe(tree, continue_on: dict[str, dict | None]) -> str:
    """The expression with bare names expanded, as Argo resolves it (for messages)."""
    if isinstance(tree, Ref):
        if tree.result:
            return f"{tree.task}.{tree.result}"
        return "(" + " || ".join(f"{tree.task}.{r}" for r in bare_results(continue_on.get(tree.task))) + ")"
    if isinstance(tree, Not):
        return "!" + describe(tree.operand, continue_on)
    operator = " && " if isinstance(tree, And) else " || "
    return "(" + describe(tree.left, continue_on) + operator + describe(tree.right, continue_on) + ")"
