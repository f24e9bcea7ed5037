"""``kaleidoscope chart --values SPEC``: print a spec file as the Helm chart's values.

The chart's own generated files (its values schema and README table) are a checkout's business:
``python -m tools.chart`` rewrites them (docs/development.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from kaleidoscope.workflows import builder
from kaleidoscope.workflows.argo.options import BuildOptions


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "chart", help="print a spec as Helm chart values (spec, workflow title, description)"
    )
    parser.add_argument(
        "--values",
        metavar="SPEC",
        required=True,
        help="print SPEC as values: spec, workflow.title, workflow.description",
    )
    parser.add_argument("--source", default="", help="the source parameter's default")
    parser.add_argument("--destination", default="", help="the destination parameter's default")
    parser.set_defaults(handler=run)


def run(args) -> int:
    sys.stdout.write(spec_values(Path(args.values), args.source, args.destination))
    return 0


class _Dumper(yaml.SafeDumper):
    """Multi-line text as a ``|`` block, so a spec printed as values reads as the file it came from."""


_Dumper.add_representer(
    str,
    lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None),
)


def spec_values(spec: Path, source: str = "", destination: str = "") -> str:
    """Chart values for a spec file: the spec itself, with the title and description the builder
    gives it (so the Argo UI describes this spec, not the default one).

    Raises:
        InvalidInput: Every problem with the spec, as ``kaleidoscope validate`` lists them.
    """
    options = BuildOptions(incremental=False, source=source, destination=destination)
    manifest = builder.manifest(builder.workflow_template(spec, options))
    annotations = manifest["metadata"]["annotations"]
    workflow = {"title": annotations[builder.TITLE], "description": annotations[builder.DESCRIPTION]}
    if source:
        workflow["source"] = source
    if destination:
        workflow["destination"] = destination
    values = {"spec": spec.read_text(encoding="utf-8"), "workflow": workflow}
    return yaml.dump(values, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31 - 1)
