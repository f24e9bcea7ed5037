"""The manifests committed in ``workflows/`` for ``argo submit`` users, and how they are rendered.

Each is :func:`workflows.builder.render` of :data:`EXAMPLE_SPEC` with the default options;
``tests/test_builder.py`` proves the committed files equal it, and rewrites them only when
``KALEIDOSCOPE_REGENERATE=1`` is set outside CI.
"""

from __future__ import annotations

from pathlib import Path

from kaleidoscope.workflows import builder

#: Where the committed manifests live in a checkout.
FOLDER = Path(__file__).resolve().parents[1] / "workflows"
FILES = {kind: FOLDER / f"kaleidoscope-{kind}.yaml" for kind in builder.KINDS}

#: The spec the committed manifests carry as the ``spec`` parameter's default. Each run gives its
#: locations with ``-p source=... -p destination=...`` (the CronWorkflow carries the spec's), and
#: may replace the rest with ``-p spec=...``.
EXAMPLE_SPEC = """\
# Kaleidoscope spec: every subset of the transforms below, applied in order, for every image.
# Edit it here, in the Argo UI, or pass your own: -p spec="$(cat my-spec.yaml)".
# A run takes its locations from its required parameters, -p source=s3://... -p destination=s3://...;
# a CronWorkflow rendered from this spec carries the two below.
source: s3://my-bucket/photos
destination: s3://my-bucket/augmented
seed: 7
normalize: {size: 512}
transforms:
  - flip_lr
  - {op: rotate_zoom, angle: [-20, 20]}
  - brightness
  - contrast
output: {format: jpg, quality: 90}
shards: 8
"""


def render(kind: str) -> str:
    """What the committed file for ``kind`` must hold."""
    return builder.render(EXAMPLE_SPEC, kind)
