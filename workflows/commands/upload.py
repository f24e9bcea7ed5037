"""``kaleidoscope upload FOLDER s3://bucket/prefix``: from photos on disk to a bucket in one command.

Uses the ``minio`` client (developer tooling around a local S3 server); the augment path itself
uses boto3. Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (and
``AWS_SESSION_TOKEN``), the endpoint from ``--s3-endpoint`` or ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` (default: AWS S3).
"""

from __future__ import annotations

import mimetypes
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.workflows.commands.common import positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("upload", help="upload a local folder of images to s3://bucket/prefix")
    parser.add_argument("folder", metavar="FOLDER", help="local folder (uploaded recursively)")
    parser.add_argument("destination", metavar="S3_URL", help="s3://bucket/prefix")
    parser.add_argument("--s3-endpoint", default="", help="S3-compatible endpoint, e.g. http://127.0.0.1:8333")
    parser.add_argument("--create-bucket", action="store_true", help="create the bucket when it does not exist")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"), help="bucket region")
    parser.add_argument("--threads", type=positive_int, default=8, help="parallel uploads (default 8)")
    parser.set_defaults(handler=run)


def minio_client(endpoint: str, region: str):
    from minio import Minio

    endpoint = (
        endpoint
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or "https://s3.amazonaws.com"
    )
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"--s3-endpoint: bad value {endpoint!r}: an http:// or https:// URL")
    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access or not secret:
        raise InvalidInput("credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    return Minio(
        parsed.netloc,
        access_key=access,
        secret_key=secret,
        session_token=os.environ.get("AWS_SESSION_TOKEN"),
        secure=parsed.scheme == "https",
        region=region,
    )


def upload(
    folder: Path,
    url: str,
    *,
    endpoint: str = "",
    create_bucket: bool = False,
    region: str = "us-east-1",
    threads: int = 8,
) -> tuple[int, int]:
    """Upload every file under ``folder``; return (files, bytes)."""
    from minio.error import S3Error

    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"S3_URL: bad value {url!r}: must be s3://bucket/prefix")
    if not folder.is_dir():
        raise InvalidInput(f"FOLDER: bad value {str(folder)!r}: not a folder")
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    client = minio_client(endpoint, region)
    try:
        if not client.bucket_exists(bucket):
            if not create_bucket:
                raise KaleidoscopeError(f"s3://{bucket}: no such bucket (add --create-bucket to make it)")
            client.make_bucket(bucket, location=region)
        files = sorted(path for path in folder.rglob("*") if path.is_file())

        def put(path: Path) -> int:
            key = "/".join(filter(None, [prefix, path.relative_to(folder).as_posix()]))
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            client.fput_object(bucket, key, str(path), content_type=content_type)
            return path.stat().st_size

        with ThreadPoolExecutor(threads) as pool:
            sizes = list(pool.map(put, files))
    except S3Error as error:
        raise KaleidoscopeError(
            f"s3://{bucket}/{error.object_name or prefix}: {error.code}: {error.message}"
        ) from error
    except OSError as error:  # connection refused, DNS, TLS: urllib3 errors derive from OSError
        raise KaleidoscopeError(f"{client._base_url.host}: cannot reach the S3 endpoint: {error}") from error
    return len(sizes), sum(sizes)


def run(args) -> int:
    count, size = upload(
        Path(args.folder),
        args.destination,
        endpoint=args.s3_endpoint,
        create_bucket=args.create_bucket,
        region=args.region,
        threads=args.threads,
    )
    print(f"uploaded {count} files ({size / 1e6:.1f} MB) to {args.destination}")
    return 0
