"""The title and description a workflow shows in the Argo UI, from its spec.

Kept apart from the builder, and free of Hera, so that a local run can tell which rendered
manifest it may reuse (:mod:`workflows.local`) without importing Hera to render one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kaleidoscope.steps.spec import Spec
    from kaleidoscope.workflows.argo.options import CronSchedule

TITLE = "workflows.argoproj.io/title"
DESCRIPTION = "workflows.argoproj.io/description"


def describe(parsed: Spec, schedule: CronSchedule | None, incremental: bool) -> dict[str, str]:
    """The title and description of the template (of every run, before the builder's run words).

    They name no location: the spec's ``source`` and ``destination`` are not a run's, which
    takes its own from the parameters.
    """
    n = len(parsed.transforms)
    subsets = "every subset"
    if (parsed.min_ops, parsed.max_ops) != (0, n):
        subsets += f" of {parsed.min_ops} to {parsed.max_ops}"
    shards = f"{parsed.shards} parallel shards" if parsed.shards else f"shards of {parsed.shard_size} images"
    text = (
        f"Augments every image under the `source` parameter into the `destination` parameter. Transforms "
        f"{', '.join(transform.label for transform in parsed.transforms)}, applied in {subsets} (in order), "
        f"so each input gives {parsed.outputs_per_image} {parsed.output_format} images; {shards}. "
        f"Publishes the manifest (manifest/*/*/*.jsonl) and summary.json; the manifest step's outputs give the counts and their URLs."
    )
    if schedule is not None:
        text += f" Runs on {' and '.join(f'`{s}`' for s in schedule.schedules)} ({schedule.timezone})."
    if incremental:
        text += " Incremental by default: a run augments only images not yet recorded, and adds them to the manifest."
    title = f"Kaleidoscope: {n} transforms, {parsed.outputs_per_image} images per input"
    return {TITLE: title, DESCRIPTION: text}
