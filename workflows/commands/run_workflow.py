"""``kaleidoscope run-workflow FILE [-p name=value ...]``: run an Argo Workflow manifest here.

The manifest ``argo submit`` takes (a Workflow, WorkflowTemplate or CronWorkflow) runs on this
machine through the local executor: progress on stderr, the tree of nodes on stdout. Exit code 0
when the workflow Succeeded, 1 when it Failed (or Errored), 2 when the manifest cannot run (a
``templateRef`` or ``workflowTemplateRef`` to a template not given with ``--templates`` included).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor.runtimes import DEFAULT as DEFAULT_RUNTIME
from kaleidoscope.workflows.executor.runtimes import NAMES as RUNTIMES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run-workflow", help="run an Argo Workflow manifest on this machine, without a cluster"
    )
    parser.add_argument(
        "manifest", metavar="FILE", help="Workflow, WorkflowTemplate or CronWorkflow manifest (YAML or JSON)"
    )
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        type=_parameter,
        metavar="NAME=VALUE",
        help="a workflow parameter, as with argo submit -p (repeatable)",
    )
    parser.add_argument(
        "--templates",
        action="append",
        default=[],
        metavar="FILE",
        help="WorkflowTemplates and ClusterWorkflowTemplates its templateRef and workflowTemplateRef name "
        "(a file may hold several YAML documents; repeatable)",
    )
    parser.add_argument(
        "--secrets",
        metavar="FILE",
        help="YAML or JSON mapping secret name -> key -> value, for secretKeyRef "
        "(else $KALEIDOSCOPE_SECRET_<NAME>_<KEY>)",
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="keep the nodes' private folders here (default: a temporary folder, deleted when the workflow succeeds)",
    )
    add_runtime_argument(parser)
    parser.add_argument(
        "--host-folder",
        action="append",
        default=[],
        metavar="DIR",
        help="a host folder the containers see at the same path (--runtime podman; repeatable)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "-o",
        "--output",
        choices=("tree", "json"),
        default="tree",
        help="what to print at the end (default: the tree of nodes)",
    )
    parser.set_defaults(handler=run)


def add_runtime_argument(parser) -> None:
    """``--runtime``, shared with ``kaleidoscope run``."""
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=DEFAULT_RUNTIME,
        help="where each container or script node runs: process (a local process, the default) or podman "
        "(in its template's image, as its pod would run: securityContext, emptyDir sizeLimit, env, "
        "resources.limits where cgroups allow; the image is never pulled)",
    )


def _parameter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: expected NAME=VALUE")
    return name, value


def read_secrets(path: str) -> dict[str, dict[str, str]]:
    """A secrets file: ``{secret name: {key: value}}``."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read the secrets file: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path}: the secrets file is not valid YAML or JSON") from error
    if not isinstance(document, dict) or not all(isinstance(keys, dict) for keys in document.values()):
        raise InvalidInput(f"{path}: expected a mapping of secret name -> key -> value")
    return {str(name): {str(key): str(value) for key, value in keys.items()} for name, keys in document.items()}


def run(args) -> int:
    from kaleidoscope.workflows.executor import execute, format_tree

    secrets = read_secrets(args.secrets) if args.secrets else None
    result = execute(
        Path(args.manifest),
        dict(args.parameter),
        secrets=secrets,
        workdir=args.workdir,
        show_progress=not args.no_progress,
        templates=[Path(path) for path in args.templates],
        runtime=args.runtime,
        host_folders=[Path(folder).resolve() for folder in args.host_folder],
    )
    if args.output == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_tree(result))
    if result.stopped_by is not None:
        return 128 + result.stopped_by  # as a shell reports a process its signal ended
    return 0 if result.phase == "Succeeded" else 1
