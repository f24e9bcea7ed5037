"""Options shared by the subcommands that take a spec."""

from __future__ import annotations

import argparse

from steps import spec as spec_module


def add_spec_arguments(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        parser.add_argument("spec", metavar="SPEC", help="spec file (YAML or JSON)")
    else:
        given = parser.add_mutually_exclusive_group(required=True)
        given.add_argument("--spec", help="spec file (YAML or JSON)")
        given.add_argument("--spec-text", help="the spec document itself (how the workflow passes it)")
    parser.add_argument("--source", help="override the spec's source location")
    parser.add_argument("--destination", help="override the spec's destination location")


def load_spec(args: argparse.Namespace) -> spec_module.Spec:
    return spec_module.load(
        getattr(args, "spec", None),
        text=getattr(args, "spec_text", None),
        source=args.source,
        destination=args.destination,
    )


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with the rule in the error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: must be a whole number >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"bad value {value}: must be >= 1")
    return value
