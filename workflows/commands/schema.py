"""``kaleidoscope schema``: print the spec's JSON schema (for editors and other tools)."""

from __future__ import annotations

import json

from kaleidoscope.steps.spec import build_schema


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("schema", help="print the spec's JSON schema")
    parser.set_defaults(handler=run)


def run(args) -> int:
    print(json.dumps(build_schema(), indent=2))
    return 0
