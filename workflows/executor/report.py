"""Live progress while a workflow runs, and the final tree of nodes, like ``argo get``."""

from __future__ import annotations

import sys
import threading
import time

from kaleidoscope.workflows.executor.nodes import FAILED, Node, WorkflowResult

GLYPHS = {"Succeeded": "✔", "Failed": "✖", "Error": "⚠", "Skipped": "○", "Omitted": "○", "Running": "●", "Pending": "◷"}
MESSAGE_WIDTH = 70


def duration(seconds: float | None) -> str:
    """``0.4s``, ``12s``, ``3m05s``, ``1h02m``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _one_line(text: str, width: int = MESSAGE_WIDTH) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _message(node: Node) -> str:
    parts = [node.message] if node.message else []
    parts += [f"{key}={value}" for key, value in node.outputs.items()]
    if node.result is not None:
        parts.append(f"result={node.result}")
    return _one_line("; ".join(parts))


def format_tree(result: WorkflowResult) -> str:
    """The run's summary: header, the tree of nodes, then the last output lines of failed pods."""
    pods = [node for node in result.nodes if node.type == "Pod"]
    lines = [
        f"Name:        {result.name}",
        f"Status:      {result.phase}",
    ]
    if result.message:
        lines.append(f"Message:     {_one_line(result.message, 100)}")
    lines.append(f"Duration:    {duration(result.duration)}")
    lines.append(f"Progress:    {sum(node.phase == 'Succeeded' for node in pods)}/{len(pods)}")
    if result.parameters:
        lines.append("Parameters:")
        lines += [f"  {name}: {_one_line(value, 100)}" for name, value in result.parameters.items()]
    if result.outputs:
        lines.append("Outputs:")
        lines += [f"  {name}: {_one_line(value, 100)}" for name, value in result.outputs.items()]
    rows = [("STEP", "TEMPLATE", "PHASE", "DURATION", "MESSAGE")]
    by_id = {node.id: node for node in result.nodes}

    def walk(node: Node, prefix: str, branch: str) -> None:
        label = f"{prefix}{branch}{GLYPHS.get(node.phase, '?')} {node.display_name}"
        rows.append((label, node.template or "", node.phase, duration(node.duration), _message(node)))
        children = [by_id[child] for child in node.children if child in by_id]
        for index, child in enumerate(children):
            last = index == len(children) - 1
            extension = "" if not branch else ("  " if branch == "└─" else "│ ")
            walk(child, prefix + extension, "└─" if last else "├─")

    # The main tree, then the exit handler's (spec.onExit) when one ran.
    for node in result.nodes:
        if node.parent is None:
            walk(node, "", "")
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines.append("")
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[column]) for column, cell in enumerate(row[:4])) + "  " + row[4])
    # Failed attempts of a node that was retried into success are history, not the failure.
    recovered = {node.id for node in result.nodes if node.type == "Retry" and node.phase == "Succeeded"}
    failed = [
        node
        for node in pods
        if node.phase in FAILED and node.parent not in recovered and (node.stdout_tail or node.stderr_tail)
    ]
    if failed:
        lines += ["", "Last lines of output of the failed nodes:"]
        for node in failed:
            lines.append(f"  {node.display_name} ({node.phase}: {node.message})")
            for stream, tail in (("stdout", node.stdout_tail), ("stderr", node.stderr_tail)):
                lines += [f"    {stream}| {line}" for line in tail]
    if result.folder:
        lines += ["", f"Node folders: {result.folder}"]
    return "\n".join(line.rstrip() for line in lines)


class Progress:
    """Reports a running workflow on a stream: one updating line on a terminal, else a line
    every ``interval`` seconds when something changed (short CI logs)."""

    def __init__(self, runner, stream=None, interval: float = 10.0, clock=time.monotonic):
        self.runner = runner
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.clock = clock
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._started = clock()
        self._first_item: tuple[float, int] | None = None  # when items began to move, and from where
        self._last = ""

    def line(self) -> str:
        state = self.runner.progress()
        now = self.clock()
        text = (
            f"{self.runner.name}: {duration(now - self._started)}, "
            f"nodes {state['pods_done']}/{state['pods']} done, {state['pods_running']} running"
        )
        done, total = state["items_done"], state["items_total"]
        if total:
            text += f", progress {done}/{total}"
            # The rate counts from the first item done, so pod start-up does not drag it down.
            if self._first_item is None and done:
                self._first_item = (now, done)
            if self._first_item is not None and done > self._first_item[1] and now > self._first_item[0]:
                rate = (done - self._first_item[1]) / (now - self._first_item[0])
                text += f", {rate:.1f}/s, {duration((total - done) / rate)} left"
        return text

    def start(self) -> Progress:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
        else:
            self._emit(force=False)

    def _emit(self, force: bool) -> None:
        text = self.line()
        key = text.split(", ", 1)[1] if ", " in text else text  # ignore the clock when comparing
        if self.tty:
            self.stream.write("\r\033[K" + text[:200])
        elif force or key != self._last:
            self.stream.write(text + "\n")
        else:
            return
        self._last = key
        self.stream.flush()

    def _loop(self) -> None:
        pause = 0.5 if self.tty else self.interval
        while not self._done.wait(pause):
            self._emit(force=False)
