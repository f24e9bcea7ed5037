"""Parallelism: bounded, first-come-first-served slots for running children."""

from __future__ import annotations

import threading
from collections import deque

from kaleidoscope.workflows.executor.nodes import Node


class Slots:
    """A counting semaphore serving waiters first come, first served.

    A DAG or steps template queues a child when it decides to start it (``enqueue``), so its
    children start in the order Argo starts them, whatever order their threads reach ``wait``.
    Waiting gives up when the run stops or the template cancels its pending children.
    """

    def __init__(self, count: int):
        self._free = count
        self._waiting: deque = deque()
        self._condition = threading.Condition()

    def enqueue(self) -> object:
        with self._condition:
            ticket = object()
            self._waiting.append(ticket)
            return ticket

    def discard(self, ticket: object) -> None:
        """Leave the queue (a child that ended without taking its slot)."""
        with self._condition:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
                self._condition.notify_all()

    def wait(self, ticket: object, stop: threading.Event, cancel: threading.Event | None = None) -> bool:
        with self._condition:
            while not (self._free > 0 and self._waiting[0] is ticket):
                if stop.is_set() or (cancel is not None and cancel.is_set()):
                    self._waiting.remove(ticket)
                    self._condition.notify_all()
                    return False
                self._condition.wait(0.05)
            self._waiting.popleft()
            self._free -= 1
            self._condition.notify_all()
            return True

    def acquire(self, stop: threading.Event, cancel: threading.Event | None = None) -> bool:
        return self.wait(self.enqueue(), stop, cancel)

    def release(self) -> None:
        with self._condition:
            self._free += 1
            self._condition.notify_all()


class Boundary:
    """A running DAG or steps template: its children count against its ``parallelism``."""

    def __init__(self, node: Node, template: dict):
        self.node = node
        limit = template.get("parallelism")
        self.slots = Slots(int(limit)) if limit else None
        self.cancel = threading.Event()  # set when the template starts no more children

    def enqueue(self) -> object | None:
        """Reserve this child's place in the parallelism queue (None without a limit)."""
        return self.slots.enqueue() if self.slots else None

    def discard(self, ticket: object | None) -> None:
        if ticket is not None and self.slots is not None:
            self.slots.discard(ticket)
