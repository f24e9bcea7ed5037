"""Where a template is invoked from: what the runner and the DAG and steps templates pass down.

A module of its own so that ``runner.py`` can import ``dag.py`` and ``steps.py`` (which start
their children through the runner object they are handed) without either importing it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaleidoscope.workflows.executor.nodes import Node
from kaleidoscope.workflows.executor.parallel import Boundary


@dataclass
class Call:
    """Where a template is invoked from."""

    parent: Node | None
    boundary: Boundary | None
    depth: int
    capture_result: bool = False
    ticket: object | None = None  # the place reserved in the boundary's parallelism queue
    order: int | None = None  # the place in the parent's children (see Runner.next_order)
    label: str | None = None  # the template as the tree shows it, when not its name (templateRef: <object>/<template>)
