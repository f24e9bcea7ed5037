"""``retryStrategy``: which attempts are retried and how long to wait before the next one.

Mirrors ``processNodeRetries`` in Argo's ``workflow/controller/operator.go`` (v4.1.2):

- ``limit`` counts retries, so a node runs at most ``limit + 1`` times; without ``limit`` Argo
  retries until the node succeeds (or the workflow's deadline passes).
- ``retryPolicy``: ``OnFailure`` (the default; a non-zero exit), ``OnError`` (the executor could
  not run the node: missing command, missing output file, unresolved variable), ``Always``, and
  ``OnTransientError`` (Kubernetes-level errors, which never happen locally: never retried).
- ``expression`` (see ``expressions.py``): evaluated after the policy and the limit, over the last
  attempt; false stops retrying. With an expression and no ``retryPolicy`` the policy is
  ``Always``, so the expression decides (Argo 3.5 and later).
- ``backoff``: the n-th retry waits ``duration * factor^(n-1)`` after the previous attempt
  finished, at most ``cap``; ``maxDuration`` (from the first attempt's start) stops retrying
  once passed, or when the next wait would end after it. Argo only waits when ``limit`` is
  set; so does this. Each duration is a whole number of seconds or a Go duration, read as Argo
  reads it (:func:`kaleidoscope.workflows.rules.durations.parse_argo`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kaleidoscope.workflows.executor import expressions, variables
from kaleidoscope.workflows.rules.durations import parse_argo
from kaleidoscope.workflows.rules.variables import TAG

POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")


def _int(value, field: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{field}: bad value {value!r}: must be a whole number") from None


@dataclass(frozen=True)
class Strategy:
    """A parsed ``retryStrategy``; durations in seconds."""

    limit: int | None
    policy: str = "OnFailure"
    duration: float | None = None
    factor: int | None = None
    cap: float | None = None
    max_duration: float | None = None
    expression: object = field(default=None, compare=False)  # a parsed tree, or None

    @classmethod
    def resolved(cls, spec: dict, values: Mapping[str, str]) -> Strategy:
        """The strategy of a node about to run: Argo substitutes the template's variables
        (``{{inputs.parameters.x}}`` in an ``expression`` or a ``limit``) before it reads them."""
        return cls.parse(
            {
                key: variables.substitute(value, values) if isinstance(value, str) else value
                for key, value in spec.items()
            }
        )

    @classmethod
    def checked(cls, spec: dict) -> Strategy:
        """The strategy as a manifest loads: every tag stands for a value known only when the node
        runs, so it is read with a number in its place (the grammar is what is checked)."""
        return cls.parse({key: TAG.sub("0", value) if isinstance(value, str) else value for key, value in spec.items()})

    @classmethod
    def parse(cls, spec: dict) -> Strategy:
        """Raises ValueError naming the bad field."""
        limit = _int(spec["limit"], "limit") if spec.get("limit") is not None else None
        expression = None
        if spec.get("expression"):
            try:
                expression = expressions.parse(str(spec["expression"]))
            except ValueError as error:
                raise ValueError(f"expression: not supported by the local executor: {error}") from None
        policy = spec.get("retryPolicy") or ("Always" if expression is not None else "OnFailure")
        if policy not in POLICIES:
            raise ValueError(f"retryPolicy: bad value {policy!r}: one of {', '.join(POLICIES)}")
        backoff = spec.get("backoff") or {}
        durations = {}
        for name in ("duration", "cap", "maxDuration"):
            if backoff.get(name) not in (None, ""):
                try:
                    durations[name] = parse_argo(backoff[name])
                except ValueError as error:
                    raise ValueError(f"backoff.{name}: {error}") from None
        if backoff and "duration" not in durations:
            raise ValueError("backoff.duration: no base duration specified for retryStrategy")
        factor = _int(backoff["factor"], "backoff.factor") if backoff.get("factor") is not None else None
        return cls(
            limit,
            policy,
            durations.get("duration"),
            factor,
            durations.get("cap"),
            durations.get("maxDuration"),
            expression,
        )

    def wait(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` attempts before the next one (no scaling)."""
        if self.duration is None:
            return 0.0
        wait = self.duration
        if self.factor and self.factor > 0:
            wait = self.duration * self.factor ** (attempts - 1)
        if self.cap is not None:
            wait = min(wait, self.cap)
        return wait


@dataclass(frozen=True)
class Decision:
    retry: bool
    wait: float = 0.0
    message: str = ""


def decide(
    strategy: Strategy,
    attempts: int,
    phase: str,
    message: str,
    first_started: float,
    last_finished: float,
    now: float,
    scale: float = 1.0,
    last: dict | None = None,
) -> Decision:
    """Whether to run another attempt after ``attempts`` attempts, the last ending in ``phase``.

    Times are seconds on one clock; ``scale`` multiplies every backoff duration (tests shorten
    waits with it while keeping their schedule). ``last`` holds the expression's variables.

    Raises:
        ValueError: the expression cannot be evaluated (the node then errors, as in Argo).
    """
    if phase == "Succeeded":
        return Decision(False)
    # Argo's order: the backoff limits first, then the policy, then the limit. Argo also starts
    # the backoff wait before looking at the policy; here the wait only happens before a retry
    # that will run (same outcome, less waiting).
    wait = 0.0
    if strategy.duration is not None:
        max_deadline = None
        if strategy.max_duration is not None:
            max_deadline = first_started + strategy.max_duration * scale
            if now > max_deadline:
                return Decision(False, message="Max duration limit exceeded")
        pause = strategy.wait(attempts) * scale
        if max_deadline is not None and last_finished + pause > max_deadline:
            return Decision(False, message="Backoff would exceed max duration limit")
        if strategy.limit is not None:
            wait = max(0.0, last_finished + pause - now)
    retry_on = {"Always": ("Failed", "Error"), "OnFailure": ("Failed",), "OnError": ("Error",)}
    if phase not in retry_on.get(strategy.policy, ()):
        return Decision(False, message=message)
    if strategy.limit is not None and attempts > strategy.limit:
        return Decision(False, message="No more retries left")
    if strategy.expression is not None:
        scope = {
            "lastRetry.status": phase,
            "lastRetry.message": message,
            "lastRetry.exitCode": "-1",
            "lastRetry.duration": "0",
            "retries": str(attempts - 1),
            **(last or {}),
        }
        verdict = expressions.evaluate(strategy.expression, scope)
        if not isinstance(verdict, bool):
            raise ValueError(f"retryStrategy.expression gave {verdict!r}, not a boolean")
        if not verdict:
            return Decision(False, message="retryStrategy.expression evaluated to false")
    return Decision(True, wait=wait)
