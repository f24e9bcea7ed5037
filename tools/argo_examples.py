"""Load every manifest of Argo's own ``examples/`` folder with the local executor and count what
it refuses, by reason: the sweep docs/local-executor.md reports.

    .venv/bin/python -m tools.argo_examples PATH/TO/argo-workflows/examples [--list] [--in-image]

Each file is loaded as a user would run it (``kaleidoscope run-workflow FILE``): every
WorkflowTemplate and ClusterWorkflowTemplate of the folder is given as a template the references
may name, and a file holding several documents counts once per Workflow-like document. Loading
checks everything the executor checks before it runs a node; nothing runs. ``--in-image`` loads
as ``--runtime podman`` does (a container may leave its command to its image), without asking
podman whether the images are on this machine.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from pathlib import Path

import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import load
from kaleidoscope.workflows.executor.registry import Registry

RUNNABLE = ("Workflow", "CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate")


def _reason(problem: str) -> str:
    """A problem without the place it names: what the count groups by."""
    text = re.sub(r"^manifest: ", "", problem)
    text = re.sub(r"^[\w.\[\]-]+: ", "", text)  # the field's path
    return re.sub(r"'[^']*'", "'…'", text)[:110]


def sweep(folder: Path, in_image: bool = False) -> dict:
    files = sorted(folder.rglob("*.yaml"))
    documents: list[tuple[Path, dict]] = []
    for path in files:
        try:
            loaded = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
        except yaml.YAMLError:
            continue
        documents += [(path, d) for d in loaded if d.get("kind") in RUNNABLE]
    templates = Registry.of(
        [d for _, d in documents if d.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate")]
    )

    # A template library (a WorkflowTemplate without an entrypoint) runs only through references.
    def library(document: dict) -> bool:
        kind, spec = document.get("kind"), document.get("spec") or {}
        return kind in ("WorkflowTemplate", "ClusterWorkflowTemplate") and not spec.get("entrypoint")

    libraries = [path for path, d in documents if library(d)]
    documents = [(path, d) for path, d in documents if not library(d)]
    loaded_ok, refused = [], []
    reasons: collections.Counter = collections.Counter()
    for path, document in documents:
        try:
            load(document, None, templates, in_image=in_image)
        except InvalidInput as error:
            problems = list(getattr(error, "problems", None) or [str(error)])
            refused.append((path, problems))
            reasons.update({_reason(p) for p in problems})
        else:
            loaded_ok.append(path)
    return {
        "files": len(files),
        "documents": len(documents),
        "libraries": len(libraries),
        "loaded": loaded_ok,
        "refused": refused,
        "reasons": reasons,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path)
    parser.add_argument("--list", action="store_true", help="also list each refused file and its problems")
    parser.add_argument("--in-image", action="store_true", help="load as --runtime podman does")
    args = parser.parse_args(argv)
    result = sweep(args.examples, args.in_image)
    print(
        f"{result['files']} files: {result['documents']} runnable documents (and {result['libraries']} template "
        f"libraries, no entrypoint): {len(result['loaded'])} load, {len(result['refused'])} refused"
    )
    for reason, count in result["reasons"].most_common():
        print(f"{count:5d}  {reason}")
    if args.list:
        for path, problems in result["refused"]:
            print(f"\n{path.relative_to(args.examples)}")
            for problem in problems:
                print(f"    {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
