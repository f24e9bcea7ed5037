"""``when`` conditions, evaluated after substitution as Argo's ``shouldExecute`` does.

Argo evaluates ``when`` with govaluate and turns every bare word into a string, so
``{{steps.flip.outputs.result}} == heads`` works unquoted (``workflow/controller/steps.go``).
Supported here: numbers, quoted strings, bare words, ``true``/``false``, the comparisons
``== != < > <= >=``, regular-expression matches ``=~ !~``, ``&& || !`` and parentheses. Arithmetic
and govaluate's other operators are not: such a condition fails the node as Argo fails an invalid
``when`` (phase Error).
"""

from __future__ import annotations

import re

_OPERATORS = ("&&", "||", "==", "!=", ">=", "<=", "=~", "!~", ">", "<", "!", "(", ")")
_COMPARISONS = ("==", "!=", ">=", "<=", ">", "<", "=~", "!~")
_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_WORD_END = re.compile(r"[\s()!=<>&|\"']")


class _Literal:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _tokens(text: str) -> list:
    tokens: list = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        # A '-' starts a negative number only where an operand is expected.
        number = _NUMBER.match(text, i)
        if number and (char != "-" or not tokens or isinstance(tokens[-1], str)):
            end = number.end()
            if end == len(text) or _WORD_END.match(text, end):
                tokens.append(_Literal(float(number.group(0))))
                i = end
                continue
        if operator:
            tokens.append(operator)
            i += len(operator)
            continue
        if char in "\"'`":
            end = text.find(char, i + 1)
            if end < 0:
                raise ValueError(f"unterminated string in {text!r}")
            tokens.append(_Literal(text[i + 1 : end]))
            i = end + 1
            continue
        match = _WORD_END.search(text, i)
        end = match.start() if match else len(text)
        word = text[i:end]
        tokens.append(_Literal({"true": True, "false": False}.get(word, word)))
        i = end
    return tokens


def evaluate(text: str) -> bool:
    """Evaluate a substituted ``when``; an empty condition is true.

    Raises:
        ValueError: the condition is not valid or not boolean (Argo marks the node Error).
    """
    if not text.strip():
        return True
    tokens = _tokens(text)
    parser = _Parser(tokens, text)
    value = parser.disjunction()
    if parser.index != len(tokens):
        raise ValueError(f"Invalid 'when' expression '{text}': unexpected {tokens[parser.index]!r}")
    if not isinstance(value, bool):
        raise ValueError(f"Expected boolean evaluation for '{text}'. Got {_show(value)}")
    return value


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Parser:
    def __init__(self, tokens: list, text: str):
        self.tokens, self.text, self.index = tokens, text, 0

    def _peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _bool(self, value):
        if not isinstance(value, bool):
            raise ValueError(f"Invalid 'when' expression '{self.text}': {_show(value)!r} is not a boolean")
        return value

    def disjunction(self):
        value = self.conjunction()
        while self._peek() == "||":
            self.index += 1
            right = self.conjunction()
            value = self._bool(value) or self._bool(right)
        return value

    def conjunction(self):
        value = self.unary()
        while self._peek() == "&&":
            self.index += 1
            right = self.unary()
            value = self._bool(value) and self._bool(right)
        return value

    def unary(self):
        if self._peek() == "!":
            self.index += 1
            return not self._bool(self.unary())
        return self.comparison()

    def comparison(self):
        left = self.operand()
        operator = self._peek()
        if operator in _COMPARISONS:
            self.index += 1
            return _compare(left, operator, self.operand(), self.text)
        return left

    def operand(self):
        token = self._peek()
        self.index += 1
        if token == "(":
            value = self.disjunction()
            if self._peek() != ")":
                raise ValueError(f"Invalid 'when' expression '{self.text}': missing ')'")
            self.index += 1
            return value
        if isinstance(token, _Literal):
            return token.value
        raise ValueError(f"Invalid 'when' expression '{self.text}': expected a value, got {token!r}")


def _compare(left, operator: str, right, text: str) -> bool:
    if operator in ("=~", "!~"):
        matched = re.search(str(right), _show(left)) is not None
        return matched if operator == "=~" else not matched
    if operator == "==":
        return type(left) is type(right) and left == right
    if operator == "!=":
        return not (type(left) is type(right) and left == right)
    numeric = isinstance(left, float) and isinstance(right, float)
    textual = isinstance(left, str) and isinstance(right, str)
    if not (numeric or textual):
        raise ValueError(
            f"Invalid 'when' expression '{text}': cannot compare {_show(left)!r} {operator} {_show(right)!r}"
        )
    return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
