"""The augmentation spec: its JSON schema (assembled from the table of operations), loading,
validation with path-named errors, and the normalised :class:`Spec` the steps work from.

Defaults live in the schema (one place); :func:`parse` fills them in, so code downstream never
guesses a default of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from kaleidoscope.steps import documents, formats, operations
from kaleidoscope.steps.errors import InvalidInput

if TYPE_CHECKING:
    import jsonschema

SPEC_VERSION = 1
MAX_TRANSFORMS = 12
#: Bounded so the Argo fan-out (one node per shard, all kept in one Kubernetes object of about
#: 1 MB) and its withParam list stay small; a larger dataset gets larger shards instead.
MAX_SHARDS = 500
#: Images per shard when a spec gives neither ``shards`` nor ``shard_size``: a pod's work grows
#: with the dataset up to the cap (1,000 images are ~2.5 minutes of an augment pod on S3 for 64
#: outputs, against a pod's seconds to start), then the shards grow. A fixed count would leave a
#: 10-million-image run to a handful of pods for days (docs/scale.md).
DEFAULT_SHARD_SIZE = 1000
DEFAULT_MAX_FAILED_FRACTION = 0.1
#: Every subset of N transforms is 2^N outputs per image: 10 transforms make 1,024, 12 make
#: 4,096. Above this a spec must say it means it (limits.max_outputs_per_image).
DEFAULT_MAX_OUTPUTS_PER_IMAGE = 1024
#: Bumped whenever the same spec would produce other bytes (an encoder setting, a changed
#: operation): an incremental run refuses to add records of another engine to a generation.
#: 2: PNG with zlib's RLE strategy and the average filter; saturation (8 bit) as one matrix
#: pass; speckle noise as one float32 product; 16-bit gamma tables in float64.
ENGINE_VERSION = 2
DEFAULT_INCLUDE = ["*.jpg", "*.jpeg", "*.png", "*.webp", "*.bmp", "*.tif", "*.tiff"]
LABEL_PATTERN = "^[a-z][a-z0-9_]{0,31}$"
#: How outputs are stored: an object each, or packed into WebDataset tar archives.
CONTAINERS = ("files", "webdataset")
#: Archive bounds, in MB. A few hundred MB is what WebDataset's authors and the streaming readers
#: advise: large enough that a GET streams at full speed and a run makes one PUT per ~10,000
#: outputs, small enough that a training job's shards outnumber its workers and a retried upload
#: resends little. Below 16 MB a chunk's ~500 MB of outputs would be cut into dozens of archives,
#: giving back the requests packing saves.
DEFAULT_ARCHIVE_MB = 512
MIN_ARCHIVE_MB = 16
MAX_ARCHIVE_MB = 4096
#: Words a label may not take because output names use them.
RESERVED_LABELS = frozenset({"original"})


def _transform_item_schema() -> dict:
    names = list(operations.OPERATIONS)
    per_op = []
    for name, operation in operations.OPERATIONS.items():
        per_op.append(
            {
                "if": {"properties": {"op": {"const": name}}, "required": ["op"]},
                "then": {
                    "properties": {
                        "op": True,
                        "name": True,
                        **{option: dict(fragment) for option, fragment in operation.options.items()},
                    },
                    "additionalProperties": False,
                },
            }
        )
    # if/then/else instead of anyOf: a failing branch of anyOf hides the real error behind
    # "is not valid under any of the given schemas"; this way the error names the field.
    return {
        "if": {"type": "string"},
        "then": {"enum": names, "description": "An operation with its default options."},
        "else": {
            "type": "object",
            "required": ["op"],
            "properties": {
                "op": {"enum": names, "description": "The operation."},
                "name": {
                    "type": "string",
                    "pattern": LABEL_PATTERN,
                    "description": "Label used in output names; defaults to the operation name. "
                    "Needed when one operation appears twice.",
                },
            },
            "allOf": per_op,
        },
    }


def build_schema() -> dict:
    """Assemble the spec's JSON schema (draft 2020-12) from the table of operations."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:kaleidoscope:spec:1",
        "title": "Kaleidoscope augmentation spec",
        "type": "object",
        "additionalProperties": False,
        "required": ["source", "destination", "transforms"],
        "properties": {
            "version": {"const": SPEC_VERSION, "default": SPEC_VERSION, "description": "Spec format version."},
            "source": {
                "type": "string",
                "minLength": 1,
                "description": "Where the images are: a folder, file:// URL or s3://bucket/prefix.",
            },
            "destination": {
                "type": "string",
                "minLength": 1,
                "description": "Where outputs, the manifest parts and summary.json go. Not inside the source.",
            },
            "include": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1},
                "default": DEFAULT_INCLUDE,
                "description": "Case-insensitive glob patterns matched against each key's file name "
                "(or against the whole relative key when the pattern holds a '/').",
            },
            "seed": {
                "type": "integer",
                "minimum": 0,
                "maximum": 2**63 - 1,
                "default": 0,
                "description": "Same seed and same input give byte-identical outputs.",
            },
            "normalize": {
                "type": "object",
                "additionalProperties": False,
                "required": ["size"],
                "properties": {
                    "size": {
                        "type": "integer",
                        "minimum": 8,
                        "maximum": 16384,
                        "description": "Side of the random square crop, resized to size x size.",
                    }
                },
                "description": "Random square crop resized to size x size before any transform. "
                "Absent: images keep their own size.",
            },
            "transforms": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_TRANSFORMS,
                "items": _transform_item_schema(),
                "description": "Ordered operations; every subset is applied in this order.",
            },
            "combinations": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "min_ops": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_TRANSFORMS,
                        "default": 0,
                        "description": "Fewest operations in an output; 0 keeps the normalised original.",
                    },
                    "max_ops": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_TRANSFORMS,
                        "description": "Most operations in an output; absent means all of them.",
                    },
                },
                "default": {},
                "description": "Which subsets to produce; default all 2^N.",
            },
            "output": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "format": {"enum": list(formats.EXTENSIONS), "default": "jpg", "description": "Encoding."},
                    "quality": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 100,
                        "default": 90,
                        "description": "JPEG and WebP quality; PNG ignores it.",
                    },
                    "layout": {
                        "enum": ["auto", "mirror", "spread"],
                        "default": "auto",
                        "description": "mirror: outputs beside their source key; spread: under a 2-hex-digit "
                        "prefix so writes spread over S3 prefixes; auto: spread for s3:// destinations.",
                    },
                    "container": {
                        "enum": list(CONTAINERS),
                        "default": "files",
                        "description": "files: one object per output; webdataset: outputs packed into WebDataset "
                        "tar archives (one sample per output, its image and a .json of its parameters), "
                        "for training at scale and a fraction of the S3 requests.",
                    },
                    "archive_mb": {
                        "type": "integer",
                        "minimum": MIN_ARCHIVE_MB,
                        "maximum": MAX_ARCHIVE_MB,
                        "default": DEFAULT_ARCHIVE_MB,
                        "description": "webdataset: most MB an archive holds before the next one starts.",
                    },
                    "background": {
                        "type": "array",
                        "prefixItems": [{"type": "integer", "minimum": 0, "maximum": 255}] * 3,
                        "items": False,
                        "minItems": 3,
                        "default": [255, 255, 255],
                        "description": "Colour (B, G, R) that transparent pixels are composited over for JPEG.",
                    },
                },
                "default": {},
                "description": "How outputs are encoded.",
            },
            "shards": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SHARDS,
                "description": "Number of parallel shards (exclusive with shard_size). Default: shards of "
                f"{DEFAULT_SHARD_SIZE:,} images (shard_size), as many as the dataset needs, at most {MAX_SHARDS}.",
            },
            "shard_size": {
                "type": "integer",
                "minimum": 1,
                "description": "Images per shard (exclusive with shards); grown when it would need "
                f"more than {MAX_SHARDS} shards.",
            },
            "limits": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "max_pixels": {
                        "type": "integer",
                        "minimum": 1,
                        "default": 100_000_000,
                        "description": "Inputs with more pixels are recorded as failures "
                        "(decompression-bomb guard), checked from the header before decoding.",
                    },
                    "max_failed_fraction": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "default": DEFAULT_MAX_FAILED_FRACTION,
                        "description": "Most inputs that may fail (as a fraction of the run's inputs) for the run "
                        "to succeed; above it the run writes summary.json and fails.",
                    },
                    "max_outputs_per_image": {
                        "type": "integer",
                        "minimum": 1,
                        "default": DEFAULT_MAX_OUTPUTS_PER_IMAGE,
                        "description": "Most outputs per image a spec may make (2^N for N transforms); "
                        "raise it to confirm a larger tree.",
                    },
                    "max_failed": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Most inputs that may fail for the run to succeed, whatever the fraction "
                        "(optional; both limits apply when both are set).",
                    },
                },
                "default": {},
                "description": "Safety limits.",
            },
        },
    }


@dataclass(frozen=True)
class Transform:
    """One entry of ``transforms`` with its options completed from the operation's defaults."""

    position: int  # 1-based, part of the seed
    op: str
    label: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class Spec:
    """A validated spec with every default filled in."""

    document: Mapping[str, Any]  # as given (after command-line overrides), for the record
    source: str
    destination: str
    include: tuple[str, ...]
    seed: int
    normalize_size: int | None
    transforms: tuple[Transform, ...]
    min_ops: int
    max_ops: int
    output_format: str
    layout: str  # "mirror" or "spread", resolved from "auto"
    container: str  # "files" or "webdataset"
    archive_bytes: int
    quality: int
    background: tuple[int, int, int]
    shards: int | None
    shard_size: int | None
    max_pixels: int
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION
    max_failed: int | None = None

    @property
    def sha256(self) -> str:
        """Digest of the canonical JSON of the document, recorded in run.json and summary.json."""
        return digest(self.document)

    @property
    def output_hash(self) -> str:
        """Digest of what decides the output keys and bytes, with every default resolved.

        Seed, normalize, the transforms with their options, the combinations, the output
        settings and :data:`ENGINE_VERSION`; not locations, shard counts or limits. Two runs with
        equal hashes write the same outputs for the same source, so their records can share a
        manifest generation.
        """
        output: dict[str, object] = {
            "format": self.output_format,
            "quality": self.quality,
            "background": list(self.background),
            "layout": self.layout,
        }
        if self.container != "files":
            # Only when packed: a files spec keeps the hash (and the incremental runs) it had.
            output |= {"container": self.container, "archive_bytes": self.archive_bytes}
        decisive = {
            "engine": ENGINE_VERSION,
            "seed": self.seed,
            "normalize": self.normalize_size,
            "transforms": [{"label": t.label, "op": t.op, "options": dict(t.options)} for t in self.transforms],
            "combinations": [self.min_ops, self.max_ops],
            "output": output,
        }
        canonical = json.dumps(decisive, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    @property
    def outputs_per_image(self) -> int:
        n = len(self.transforms)
        return sum(math.comb(n, k) for k in range(self.min_ops, self.max_ops + 1))


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    # jsonschema is imported when a spec is first validated, not with this module: the augment
    # and manifest pods take a spec the shard step already validated (see ``parse``) and would
    # spend ~50 ms of their start-up importing it for nothing.
    import jsonschema

    return jsonschema.Draft202012Validator(build_schema())


def format_path(path: Iterable[Any]) -> str:
    """``["transforms", 2, "angle"]`` -> ``transforms[2].angle`` (``<spec>`` for the root)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<spec>"


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    from jsonschema.exceptions import best_match

    # Errors from anyOf/oneOf carry their branches' errors in .context; the most relevant
    # branch names the actual field and rule.
    while error.context:
        # A branch that failed only on type is the wrong branch (the value is a list, the branch
        # wanted a number): prefer the branch whose type fits and report its real complaint.
        fitting = [branch for branch in error.context if branch.validator != "type"] or error.context
        error = best_match(fitting)
    return error


def _describe(error: jsonschema.ValidationError) -> str:
    error = _deepest(error)
    # Messages repeat values (jsonschema's quote the whole instance): both are cut to an excerpt.
    value = documents.excerpt(json.dumps(error.instance, ensure_ascii=False, default=str))
    message = documents.excerpt(error.message, 2 * documents.EXCERPT)
    return f"{format_path(error.absolute_path)}: bad value {value}: {message}"


def schema_problems(document: Any) -> list[str]:
    """Every schema violation of ``document``, each as ``<json path>: bad value <v>: <rule>``."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [_describe(error) for error in errors]


def _range_problems(where: str, value: Any, fragment: Mapping[str, Any]) -> list[str]:
    if fragment.get("x-range") and isinstance(value, list) and len(value) == 2 and value[0] > value[1]:
        return [f"{where}: bad value {json.dumps(value)}: a range is [low, high] with low <= high"]
    return []


def _semantic_problems(document: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    labels: dict[str, int] = {}
    for index, item in enumerate(document["transforms"]):
        op = item if isinstance(item, str) else item["op"]
        label = op if isinstance(item, str) else item.get("name", op)
        if label in RESERVED_LABELS:
            problems.append(
                f"transforms[{index}].name: bad value {json.dumps(label)}: reserved for the untransformed image"
            )
        if label in labels:
            problems.append(
                f"transforms[{index}]: bad value {json.dumps(label)}: label already used by "
                f"transforms[{labels[label]}]; give one of them a distinct 'name'"
            )
        labels.setdefault(label, index)
        if isinstance(item, dict):
            options = operations.get(op).options
            for option, value in item.items():
                if option in options:
                    problems += _range_problems(f"transforms[{index}].{option}", value, options[option])
    combinations = document.get("combinations", {})
    n = len(document["transforms"])
    min_ops, max_ops = combinations.get("min_ops", 0), combinations.get("max_ops", n)
    if max_ops > n:
        problems.append(f"combinations.max_ops: bad value {max_ops}: more than the {n} transforms given")
    if min_ops > max_ops:
        problems.append(f"combinations.min_ops: bad value {min_ops}: greater than max_ops ({max_ops})")
    if "shards" in document and "shard_size" in document:
        problems.append("shard_size: bad value: give either shards or shard_size, not both")
    if min_ops <= max_ops <= n:
        outputs = sum(math.comb(n, k) for k in range(min_ops, max_ops + 1))
        cap = document.get("limits", {}).get("max_outputs_per_image", DEFAULT_MAX_OUTPUTS_PER_IMAGE)
        if outputs > cap:
            problems.append(
                f"transforms: {n} transforms make {outputs:,} outputs per image, more than "
                f"limits.max_outputs_per_image ({cap:,}); set limits.max_outputs_per_image: {outputs} to confirm, "
                "or bound combinations.max_ops"
            )
    problems += location_problems(document["source"], document["destination"])
    return problems


def _canonical_location(url: str) -> tuple[str, str]:
    """(scheme-and-bucket, normalised path) so that nesting can be compared."""
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return f"s3://{parsed.netloc}", posixpath.normpath("/" + parsed.path.lstrip("/"))
    if parsed.scheme == "file":
        return "file", str(Path(parsed.path).resolve())
    return "file", str(Path(url).expanduser().resolve())


def location_problems(source: str, destination: str) -> list[str]:
    """A destination equal to or inside the source would feed a later run its own outputs."""
    src_root, src_path = _canonical_location(source)
    dst_root, dst_path = _canonical_location(destination)
    if src_root != dst_root:
        return []
    if dst_path == src_path or dst_path.startswith(src_path.rstrip("/") + "/"):
        return [
            f"destination: bad value {json.dumps(destination)}: must not be the source or inside it "
            f"(source is {json.dumps(source)}); a later run would augment its own outputs"
        ]
    return []


def digest(document: Any) -> str:
    """A digest of a spec document as given (overrides applied, defaults not filled in)."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _digest_is(document: Any, expected: str) -> bool:
    try:
        return digest(document) == expected
    except (TypeError, ValueError):  # not JSON (a YAML date, say): never the validated document
        return False


def parse(document: Any, *, validated: str | None = None) -> Spec:
    """Validate a spec document and return it normalised.

    Args:
        document: The spec document.
        validated: The :func:`digest` of a document known to be valid (the one the shard step
            validated and recorded for this run). A document with that digest is the same
            document, so it is not validated again; any other is.

    Raises:
        InvalidInput: with one line per problem, each naming the JSON path, value and rule.
    """
    if validated is not None and _digest_is(document, validated):
        return _normalised(document)
    problems = schema_problems(document)
    if not problems:
        problems = _semantic_problems(document)
    elif isinstance(document, dict) and all(
        isinstance(document.get(k), str) and document[k] for k in ("source", "destination")
    ):
        # Reported with the schema's problems so a user fixes everything in one round.
        problems += location_problems(document["source"], document["destination"])
    if problems:
        raise InvalidInput(problems)
    return _normalised(document)


def _normalised(document: Any) -> Spec:
    """The :class:`Spec` of a valid document, its defaults filled in."""
    transforms = []
    for index, item in enumerate(document["transforms"]):
        entry = {"op": item} if isinstance(item, str) else dict(item)
        op = entry.pop("op")
        label = entry.pop("name", op)
        transforms.append(Transform(index + 1, op, label, {**operations.defaults(op), **entry}))
    combinations = document.get("combinations", {})
    output = document.get("output", {})
    shards, shard_size = document.get("shards"), document.get("shard_size")
    if shards is None and shard_size is None:
        shard_size = DEFAULT_SHARD_SIZE
    normalize = document.get("normalize")
    return Spec(
        document=document,
        source=document["source"],
        destination=document["destination"],
        include=tuple(document.get("include", DEFAULT_INCLUDE)),
        seed=document.get("seed", 0),
        normalize_size=normalize["size"] if normalize else None,
        transforms=tuple(transforms),
        min_ops=combinations.get("min_ops", 0),
        max_ops=combinations.get("max_ops", len(transforms)),
        output_format=output.get("format", "jpg"),
        layout=_layout(output.get("layout", "auto"), document["destination"]),
        container=output.get("container", "files"),
        archive_bytes=output.get("archive_mb", DEFAULT_ARCHIVE_MB) * 1024 * 1024,
        quality=output.get("quality", 90),
        background=tuple(output.get("background", (255, 255, 255))),
        shards=shards,
        shard_size=shard_size,
        max_pixels=document.get("limits", {}).get("max_pixels", 100_000_000),
        max_failed_fraction=document.get("limits", {}).get("max_failed_fraction", DEFAULT_MAX_FAILED_FRACTION),
        max_failed=document.get("limits", {}).get("max_failed"),
    )


def _layout(layout: str, destination: str) -> str:
    if layout == "auto":
        return "spread" if destination.startswith("s3://") else "mirror"
    return layout


def load_document(text: str, origin: str = "<spec>") -> Any:
    """Parse YAML or JSON text (JSON is YAML) at a bounded cost, naming the line of a syntax error."""
    return documents.parse(text, origin)


def given_document(
    path: str | None = None,
    *,
    text: str | None = None,
    source: str | None = None,
    destination: str | None = None,
) -> Any:
    """The spec document from a file path or inline text, overrides applied, not yet validated.

    Args:
        path: A YAML/JSON file.
        text: The document itself (how Argo passes it, as a workflow parameter).
        source: Replaces the spec's ``source`` (command-line override).
        destination: Replaces the spec's ``destination``.
    """
    if text is None:
        if path is None:
            raise InvalidInput("spec: give a spec file or the spec text")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidInput(f"{path}: cannot read the spec: {error.strerror or error}") from error
    document = load_document(text, path or "<spec>")
    if isinstance(document, dict):
        document = dict(document)
        if source is not None:
            document["source"] = source
        if destination is not None:
            document["destination"] = destination
    return document


def load(
    path: str | None = None,
    *,
    text: str | None = None,
    source: str | None = None,
    destination: str | None = None,
) -> Spec:
    """Load, override and validate a spec from a file path or inline text (as :func:`given_document`)."""
    return parse(given_document(path, text=text, source=source, destination=destination))
