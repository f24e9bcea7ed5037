"""``kaleidoscope lint``'s reading of manifests: Argo's rules are :mod:`kaleidoscope.workflows.rules.validate`,
the same the local executor's load applies; this module reads YAML texts and files into them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.rules.validate import validate


def lint(document: Any, strict: bool = False) -> list[str]:
    """Every problem of one manifest, each as ``<path>: <what is wrong>`` (see
    :func:`~kaleidoscope.workflows.rules.validate.validate`); an empty list when it is clean."""
    return validate(document, strict=strict)


def lint_text(text: str, origin: str = "<manifest>", strict: bool = False) -> list[str]:
    """Problems of every document in a YAML/JSON text, each prefixed by where it comes from.

    Raises:
        InvalidInput: The text is not YAML, or holds no document.
    """
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        raise InvalidInput(f"{where}: not valid YAML: {getattr(error, 'problem', error)}") from error
    if not documents:
        raise InvalidInput(f"{origin}: holds no manifest")
    problems = []
    for index, document in enumerate(documents):
        label = origin if len(documents) == 1 else f"{origin} (document {index + 1})"
        problems += [f"{label}: {problem}" for problem in lint(document, strict)]
    return problems


def lint_file(path: str | Path, strict: bool = False) -> list[str]:
    """Problems of every manifest in a file (see :func:`lint_text`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read: {error.strerror or error}") from error
    return lint_text(text, str(path), strict)
