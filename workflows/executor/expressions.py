"""``retryStrategy.expression``: the part of Argo's expression language retries use.

Argo evaluates it with expr (expr-lang.org) over ``lastRetry.exitCode`` (a string, ``"-1"`` when
unknown), ``lastRetry.status`` (the last attempt's phase), ``lastRetry.duration`` (seconds, a
string), ``lastRetry.message`` and ``retries`` (``buildRetryStrategyLocalScope`` in operator.go),
e.g. ``asInt(lastRetry.exitCode) != 2``. Supported here: those names, string and number
literals, ``true``/``false``, ``asInt``, ``asFloat``, ``string``, ``int``, ``float``, ``len``, the
comparisons ``== != < > <= >=``, ``matches``, ``contains``, ``startsWith``, ``endsWith``,
``&& || !`` (or ``and or not``) and parentheses. Anything else is refused when the manifest
is loaded, naming the field.
"""

from __future__ import annotations

import re

NAMES = ("lastRetry.exitCode", "lastRetry.status", "lastRetry.duration", "lastRetry.message", "retries")
_TOKEN = re.compile(
    r"""\s*(?:
    (?P<number>\d+\.\d*|\.\d+|\d+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<operator>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|,)
)""",
    re.X,
)
_WORD_OPERATORS = {"and": "&&", "or": "||", "not": "!"}
_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=", "matches", "contains", "startsWith", "endsWith")


def _as_int(value):
    if isinstance(value, bool):
        raise ValueError("asInt of a boolean")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return int(float(text))


FUNCTIONS = {
    "asInt": _as_int,
    "int": _as_int,
    "asFloat": lambda value: float(value),
    "float": lambda value: float(value),
    "string": lambda value: (
        value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    ),
    "len": len,
}


def _tokens(text: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"unexpected {text[position:]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "number":
            tokens.append(("literal", float(value) if "." in value else int(value)))
        elif kind == "string":
            tokens.append(("literal", bytes(value[1:-1], "utf-8").decode("unicode_escape")))
        elif kind == "name" and value in ("true", "false"):
            tokens.append(("literal", value == "true"))
        elif kind == "name" and value in _WORD_OPERATORS:
            tokens.append(("operator", _WORD_OPERATORS[value]))
        elif kind == "name" and value in _COMPARISONS:
            tokens.append(("operator", value))
        else:
            tokens.append((kind, value))
        position = match.end()
    return tokens


def parse(text: str):
    """Parse an expression into a tree of tuples.

    Raises:
        ValueError: outside the supported subset (the message says what).
    """
    tokens = _tokens(text)
    if not tokens:
        raise ValueError("empty expression")
    parser = _Parser(tokens)
    tree = parser.disjunction()
    if parser.index != len(tokens):
        raise ValueError(f"unexpected {tokens[parser.index][1]!r}")
    return tree


class _Parser:
    def __init__(self, tokens):
        self.tokens, self.index = tokens, 0

    def _peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else (None, None)

    def _operator(self, *names) -> str | None:
        kind, value = self._peek()
        if kind == "operator" and value in names:
            self.index += 1
            return value
        return None

    def disjunction(self):
        tree = self.conjunction()
        while self._operator("||"):
            tree = ("or", tree, self.conjunction())
        return tree

    def conjunction(self):
        tree = self.negation()
        while self._operator("&&"):
            tree = ("and", tree, self.negation())
        return tree

    def negation(self):
        if self._operator("!"):
            return ("not", self.negation())
        return self.comparison()

    def comparison(self):
        tree = self.primary()
        operator = self._operator(*_COMPARISONS)
        if operator:
            tree = ("compare", operator, tree, self.primary())
        return tree

    def primary(self):
        kind, value = self._peek()
        self.index += 1
        if kind == "literal":
            return ("literal", value)
        if kind == "operator" and value == "(":
            tree = self.disjunction()
            if not self._operator(")"):
                raise ValueError("missing ')'")
            return tree
        if kind == "name":
            if self._operator("("):
                if value not in FUNCTIONS:
                    raise ValueError(f"function {value}() is not supported locally (one of {', '.join(FUNCTIONS)})")
                argument = self.disjunction()
                if not self._operator(")"):
                    raise ValueError(f"{value}() takes one argument")
                return ("call", value, argument)
            if value not in NAMES:
                raise ValueError(f"unknown name {value!r} (one of {', '.join(NAMES)})")
            return ("name", value)
        raise ValueError(f"expected a value, got {value!r}")


def evaluate(tree, scope: dict[str, object]):
    """Evaluate a parsed expression. Raises ValueError on a type error, as expr does."""
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "name":
        return scope[tree[1]]
    if kind == "call":
        try:
            return FUNCTIONS[tree[1]](evaluate(tree[2], scope))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{tree[1]}(): {error}") from None
    if kind == "not":
        return not _bool(evaluate(tree[1], scope))
    if kind == "and":
        return _bool(evaluate(tree[1], scope)) and _bool(evaluate(tree[2], scope))
    if kind == "or":
        return _bool(evaluate(tree[1], scope)) or _bool(evaluate(tree[2], scope))
    return _compare(tree[1], evaluate(tree[2], scope), evaluate(tree[3], scope))


def _bool(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare(operator: str, left, right) -> bool:
    if operator in ("==", "!="):
        same = left == right if (_number(left) and _number(right)) or type(left) is type(right) else False
        return same if operator == "==" else not same
    if operator in ("matches", "contains", "startsWith", "endsWith"):
        if not (isinstance(left, str) and isinstance(right, str)):
            raise ValueError(f"{operator} needs strings, got {left!r} and {right!r}")
        return {
            "matches": lambda: re.search(right, left) is not None,
            "contains": lambda: right in left,
            "startsWith": lambda: left.startswith(right),
            "endsWith": lambda: left.endswith(right),
        }[operator]()
    if not ((_number(left) and _number(right)) or (isinstance(left, str) and isinstance(right, str))):
        raise ValueError(f"cannot compare {left!r} {operator} {right!r}")
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
