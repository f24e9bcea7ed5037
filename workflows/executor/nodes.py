"""The nodes of a run and its result: what ``argo get`` shows, as Python objects."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

#: Node phases, as Argo names them.
DONE = ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
FAILED = ("Failed", "Error")


def rfc3339(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else ""


@dataclass
class Node:
    """One node of the run's tree.

    ``type`` is Argo's node type: ``Pod`` (a container or script that ran), ``DAG``, ``Steps``,
    ``StepGroup``, ``TaskGroup`` (a DAG task's fan-out), ``Retry`` (the attempts of a node with a
    retryStrategy) or ``Skipped`` (a node that never ran: phase Skipped, Omitted or Error).
    ``children`` and ``parent`` follow containment (a DAG holds its tasks), as the tree shows it.
    """

    id: str
    name: str
    display_name: str
    type: str
    template: str | None
    phase: str = "Running"
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    result: str | None = None
    exit_code: int | None = None
    stdout_tail: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)
    folder: str | None = None
    progress: tuple[int, int] | None = None

    @property
    def fulfilled(self) -> bool:
        return self.phase in DONE

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    def to_dict(self) -> dict:
        data = asdict(self)
        data["duration"] = self.duration
        return data


@dataclass
class WorkflowResult:
    """How a run ended; ``nodes`` are in tree order (a parent before its children)."""

    name: str
    uid: str
    phase: str
    message: str
    started_at: float
    finished_at: float
    parameters: dict[str, str]
    outputs: dict[str, str]
    nodes: list[Node]
    folder: str | None
    #: The signal (SIGTERM, SIGINT) that stopped the run, if one did.
    stopped_by: int | None = None
    #: What the runtime could not apply on this machine (e.g. resource limits without cgroups).
    warnings: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.phase == "Succeeded"

    @property
    def duration(self) -> float:
        return self.finished_at - self.started_at

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def node(self, display_name: str) -> Node:
        """The one node with this display name (e.g. a task or step name).

        Raises:
            KeyError: none or several nodes have it.
        """
        found = [node for node in self.nodes if node.display_name == display_name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes are named {display_name!r}")
        return found[0]

    def find(self, **fields) -> list[Node]:
        """Nodes whose attributes equal ``fields``, e.g. ``find(template="augment", type="Pod")``."""
        return [node for node in self.nodes if all(getattr(node, key) == value for key, value in fields.items())]

    def children(self, node: Node) -> list[Node]:
        by_id = {item.id: item for item in self.nodes}
        return [by_id[child] for child in node.children if child in by_id]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "uid": self.uid,
            "phase": self.phase,
            "message": self.message,
            "startedAt": rfc3339(self.started_at),
            "finishedAt": rfc3339(self.finished_at),
            "duration": self.duration,
            "parameters": self.parameters,
            "outputs": self.outputs,
            "nodes": [node.to_dict() for node in self.nodes],
            "folder": self.folder,
            "warnings": self.warnings,
        }
