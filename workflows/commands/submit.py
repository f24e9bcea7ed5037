"""``kaleidoscope submit SPEC``: create the Workflow on an Argo server and print its name and link.

The server, token and namespace come from ``--host``, ``--token`` and ``--namespace``, else from
Argo CLI's variables ``ARGO_SERVER``, ``ARGO_TOKEN`` and ``ARGO_NAMESPACE`` (see
:mod:`workflows.submit`). The workflow sent is what ``kaleidoscope render`` prints for the
same spec and options, with the ``source`` and ``destination`` parameters given values (the
flags', else the spec's): a run names where it reads and writes, and Argo refuses one that does not.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.commands._build_flags import add_build_arguments, build_options, with_flags
from kaleidoscope.workflows.submit import DEFAULT_TIMEOUT, ArgoServer, submit


def _seconds(text: str) -> float:
    """argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"bad value {value:g}: must be > 0")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("submit", help="create the workflow on an Argo server (Hera's WorkflowsService)")
    add_build_arguments(parser)
    server = parser.add_argument_group("Argo server")
    server.add_argument("--host", help="Argo server URL or host:port (default $ARGO_SERVER)")
    server.add_argument("--token", help="bearer token (default $ARGO_TOKEN)")
    server.add_argument(
        "--insecure-skip-verify",
        action="store_true",
        default=None,
        help="do not verify the server's TLS certificate (default $ARGO_INSECURE_SKIP_VERIFY)",
    )
    server.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the server (default {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    server = ArgoServer.from_env(
        host=args.host,
        namespace=args.namespace,
        token=args.token,
        insecure_skip_verify=args.insecure_skip_verify,
        timeout=args.timeout,
    )
    try:
        # The namespace it goes to is written into the manifest too, as render would with --namespace.
        options = replace(build_options(args), namespace=server.namespace)
        # A run is created now: it carries its locations (the flags', else the spec's), which the
        # rendered Workflow leaves to `argo submit -p`.
        workflow = builder.workflow(Path(args.spec), options, carry_locations=True)
    except InvalidInput as error:
        raise with_flags(error) from None
    submitted = submit(workflow, server)
    print(submitted.name)
    print(submitted.link)
    return 0
