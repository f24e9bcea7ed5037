"""Options shared by the subcommands that take a spec."""

from __future__ import annotations

import argparse
import re
from urllib.parse import urlparse

from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import StorageError


def add_spec_arguments(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        parser.add_argument("spec", metavar="SPEC", help="spec file (YAML or JSON)")
    else:
        given = parser.add_mutually_exclusive_group(required=True)
        given.add_argument("--spec", help="spec file (YAML or JSON)")
        given.add_argument("--spec-text", help="the spec document itself (how the workflow passes it)")
    parser.add_argument("--source", help="override the spec's source location")
    parser.add_argument("--destination", help="override the spec's destination location")
    add_s3_endpoint(parser)


def add_s3_endpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--s3-endpoint",
        default="",
        help="S3-compatible endpoint URL, e.g. http://minio:9000 (default: AWS, or $AWS_ENDPOINT_URL_S3)",
    )


def configure_s3(args: argparse.Namespace) -> None:
    """Point the S3 client at ``--s3-endpoint`` when one is given."""
    if args.s3_endpoint:
        from kaleidoscope.steps import s3  # boto3 only when S3 is used

        s3.configure(endpoint_url=args.s3_endpoint)


def spec_document(args: argparse.Namespace):
    """The spec document the arguments give (file or text, overrides applied), not validated."""
    configure_s3(args)
    return spec_module.given_document(
        getattr(args, "spec", None),
        text=getattr(args, "spec_text", None),
        # An empty value means "keep the spec's": how an unset workflow parameter arrives.
        source=args.source or None,
        destination=args.destination or None,
    )


def load_spec(args: argparse.Namespace) -> spec_module.Spec:
    return spec_module.parse(spec_document(args))


def add_count_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--count",
        action="store_true",
        help="list the source as the shard step does, S3 included, and print the total outputs "
        "(a folder is counted without it; an S3 listing takes ~7 min at 10 million keys)",
    )


def count_images(spec: spec_module.Spec) -> int:
    """The images the shard step would take from the source: the same listing and the same filter."""
    from kaleidoscope.steps import shard  # the listing's code; boto3 only when the source is S3
    from kaleidoscope.steps.locations import open_storage

    source = open_storage(spec.source)
    source.check()
    matches = shard.matcher(spec.include)
    return sum(1 for key in source.list_keys() if matches(key))


def outputs_line(spec: spec_module.Spec, *, count: bool) -> str:
    """``<source>: N images x M outputs = T outputs`` when the source is counted, else why not.

    A folder is counted; an S3 source only with ``count`` (listing 10 million keys takes minutes).
    With ``count`` a source that cannot be listed is an error; without, it only means no total.
    """
    per_image = spec.outputs_per_image
    if not count and urlparse(spec.source).scheme == "s3":
        return f"{spec.source}: {per_image:,} outputs per image; not listed, so no total (--count lists it)"
    try:
        images = count_images(spec)
    except StorageError as error:
        if count:
            raise
        return f"{error}: {per_image:,} outputs per image, no total"
    noun = "image" if images == 1 else "images"
    line = f"{spec.source}: {images:,} {noun} x {per_image:,} outputs = {images * per_image:,} outputs"
    if images == 0:
        line += f" (a run would fail: no image matches include {list(spec.include)})"
    return line


def whole_number(minimum: int):
    """An argparse type for integers >= ``minimum``, with the rule in the error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad value {text!r}: must be a whole number >= {minimum}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"bad value {value}: must be >= {minimum}")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


positive_int = whole_number(1)


def boolean(text: str) -> bool:
    """argparse type for ``true``/``false`` (how a workflow parameter passes a switch)."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0", ""):
        return False
    raise argparse.ArgumentTypeError(f"bad value {text!r}: must be true or false")


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def run_id(text: str) -> str:
    """argparse type for a run id: it names folders under the destination, so no '/' or '..'."""
    if not _RUN_ID.match(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            f"bad value {text[:80]!r}: letters, digits, '.', '_' and '-', at most 128, starting with a letter or digit"
        )
    return text


def seconds(text: str) -> float:
    """argparse type for a duration in seconds (>= 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: must be >= 0")
    return value
