"""S3 storage with boto3: AWS S3, MinIO, SeaweedFS or any S3-compatible endpoint.

Credentials, region and profile come from boto3's standard chain (environment, shared config
and credentials files, web identity / IRSA in a pod, instance metadata); an endpoint comes from
``--s3-endpoint`` or the standard ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``. Nothing here
ever prints or records a credential: errors name the bucket, key and cause only.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import botocore.exceptions
import botocore.session
from botocore.config import Config

from kaleidoscope.steps.errors import InvalidInput, ObjectMissing, PreconditionFailed, StorageDenied, StorageError
from kaleidoscope.steps.storage import Storage, Upload

#: Objects above this go up in parts (and are fetched in ranges); image outputs stay below it.
MULTIPART_THRESHOLD = 16 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """How to reach S3; one set per process, shared by every S3 location."""

    endpoint_url: str | None = None
    addressing_style: str = "auto"  # "path" suits most self-hosted stores; auto picks path with an endpoint
    max_connections: int = 32  # sized to the augment step's I/O threads, see augment.io_threads
    page_size: int = 1000  # ListObjectsV2 page; tests force it small to exercise pagination
    max_attempts: int = 8


_settings = Settings(
    endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None,
    page_size=int(os.environ.get("KALEIDOSCOPE_S3_PAGE_SIZE", "1000")),
)
_clients: dict[Settings, object] = {}
_lock = threading.Lock()


def configure(**changes) -> Settings:
    """Change the process's S3 settings (from command-line options); None/"" keeps a value."""
    global _settings
    changes = {name: value for name, value in changes.items() if value not in (None, "")}
    if "endpoint_url" in changes:
        endpoint = urlparse(changes["endpoint_url"])
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise InvalidInput(
                f"--s3-endpoint: bad value {changes['endpoint_url']!r}: an http:// or https:// URL, e.g. http://minio:9000"
            )
    _settings = replace(_settings, **changes)
    return _settings


def forget_clients() -> None:
    """Drop cached clients, e.g. after the credentials in the environment changed."""
    with _lock:
        _clients.clear()


def settings() -> Settings:
    return _settings


def client(current: Settings | None = None):
    """One thread-safe boto3 client per settings, so source and destination share its pool."""
    current = current or _settings
    with _lock:
        if current not in _clients:
            style = current.addressing_style
            if style == "auto":
                style = "path" if current.endpoint_url else "virtual"
            config = Config(
                retries={"mode": "adaptive", "max_attempts": current.max_attempts},
                max_pool_connections=current.max_connections,
                s3={"addressing_style": style},
                connect_timeout=10,
                read_timeout=120,
                tcp_keepalive=True,
                # Client CPU per request (each output is a PUT): the arguments are built here, not
                # typed by a user, so botocore's per-call validation only restates them; a CRC32
                # header on every PUT is not what S3 requires (SigV4 signs the payload's SHA-256
                # over http, TLS carries it over https), and some S3-compatible stores refuse it.
                parameter_validation=False,
                request_checksum_calculation="when_required",
            )
            core = botocore.session.Session()
            # A listing page spends most of its client time parsing every LastModified into a
            # datetime, which nothing here reads: keep the server's timestamp strings instead.
            core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
            # botocore's client, which boto3's is: the same credential chain, retries and
            # requests, without importing boto3 (~50 ms of CPU in every step process) until a
            # multipart upload needs its transfer manager (write_file).
            _clients[current] = core.create_client("s3", endpoint_url=current.endpoint_url, config=config)
        return _clients[current]


def describe_error(error: Exception, where: str) -> str:
    """One line naming the place and the cause, never a credential."""
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return f"{where}: no S3 credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a pod identity)"
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return f"{where}: cannot reach the S3 endpoint {error.kwargs.get('endpoint_url', '')}"
    if isinstance(error, botocore.exceptions.ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        causes = {
            "NoSuchBucket": "no such bucket",
            "NoSuchKey": "no such key",
            "404": "no such key",
            "AccessDenied": "access denied",
            "403": "access denied",
            "InvalidAccessKeyId": "the access key is not known to the server",
            "SignatureDoesNotMatch": "the secret key is wrong (signature does not match)",
        }
        return f"{where}: {causes.get(code, f'{code or status} error')}"
    if isinstance(error, botocore.exceptions.BotoCoreError):
        return f"{where}: {error}"
    return f"{where}: {type(error).__name__}: {error}"


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


#: Answers no retry can change. An expired token is not among them: a pod identity refreshes it.
_PERMANENT = {"NoSuchBucket", "AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def _error_class(error: Exception) -> type[StorageError]:
    """What a failed request means for the step: a missing object, a permanent refusal, or an
    outage (throttling, 5xx and network errors arrive here only after botocore's retries)."""
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return StorageDenied
    if isinstance(error, botocore.exceptions.ClientError):
        code = _code(error)
        if code in ("NoSuchKey", "404"):
            return ObjectMissing
        if code in _PERMANENT:
            return StorageDenied
    return StorageError


class S3Storage(Storage):
    """A bucket and key prefix; keys are relative to the prefix."""

    def __init__(self, bucket: str, prefix: str, url: str, current: Settings | None = None):
        self.bucket, self.prefix, self.url = bucket, prefix, url
        self.settings = current or _settings
        self.client = client(self.settings)

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parsed = urlparse(url)
        if not parsed.netloc:
            raise InvalidInput(f"location: bad value {url!r}: an S3 location is s3://bucket/prefix")
        prefix = parsed.path.strip("/")
        return cls(parsed.netloc, f"{prefix}/" if prefix else "", url.rstrip("/"))

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _fail(self, error: Exception, key: str | None = None) -> StorageError:
        where = self.describe(key) if key is not None else f"s3://{self.bucket}/{self.prefix}"
        return _error_class(error)(describe_error(error, where))

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=self._key(prefix),
            PaginationConfig={"PageSize": self.settings.page_size},
        )
        skip = len(self.prefix)
        try:
            # The paginator fetches lazily: one page of keys in memory at a time.
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"][skip:]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error) from error

    def read(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, key) from error

    def read_lines(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            # 64 KiB chunks: botocore holds a chunk, its copy and its split lines at once.
            for line in body.iter_lines(chunk_size=1 << 16):
                if line:
                    yield line
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, key) from error

    def write(self, key: str, data: bytes, content_type: str | None = None) -> None:
        # A PUT is atomic in S3: readers see the old object or the new one, never a mix.
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **extra)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, key) from error

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        # A multipart upload becomes visible only when completed, so large files stay atomic.
        import boto3.exceptions
        from boto3.s3.transfer import S3Transfer, TransferConfig

        transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
        extra = {"ContentType": content_type} if content_type else None
        try:
            with S3Transfer(self.client, transfer) as uploader:
                uploader.upload_file(str(path), self.bucket, self._key(key), extra_args=extra)
        except (
            botocore.exceptions.BotoCoreError,
            botocore.exceptions.ClientError,
            boto3.exceptions.S3UploadFailedError,
        ) as error:
            cause = getattr(error, "last_exception", None) or error
            raise self._fail(cause if isinstance(cause, Exception) else error, key) from error

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except botocore.exceptions.ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 and error.response["Error"][
                "Code"
            ] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail(error, key) from error
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(error, key) from error

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            return answer["Body"].read(), answer["ETag"]
        except botocore.exceptions.ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                return None
            raise self._fail(error, key) from error
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(error, key) from error

    def _conditional(self, call, key: str, **arguments) -> dict:
        try:
            return call(Bucket=self.bucket, Key=self._key(key), **arguments)
        except botocore.exceptions.ClientError as error:
            # 412: the condition did not hold. 409 (ConditionalRequestConflict): AWS's answer to
            # a write racing another conditional write on the same key; the caller re-reads.
            if _code(error) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise PreconditionFailed(f"{self.describe(key)}: changed by another writer") from error
            raise self._fail(error, key) from error
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(error, key) from error

    def create(self, key: str, data: bytes, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        return self._conditional(self.client.put_object, key, Body=data, IfNoneMatch="*", **extra)["ETag"]

    def replace(self, key: str, data: bytes, tag: str, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        return self._conditional(self.client.put_object, key, Body=data, IfMatch=tag, **extra)["ETag"]

    def delete_tagged(self, key: str, tag: str) -> None:
        self._conditional(self.client.delete_object, key, IfMatch=tag)

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, key) from error

    def open_upload(self, key: str, content_type: str | None = None, part_bytes: int | None = None) -> Upload:
        return _S3Upload(self, key, content_type, part_bytes or MULTIPART_THRESHOLD)

    def open_staged(
        self, key: str, staging_key: str, content_type: str | None = None, part_bytes: int | None = None
    ) -> Upload:
        # A multipart upload at the key itself, completed at publication: invisible until then,
        # and published by one request instead of a copy of every byte (a run's archives are
        # the whole dataset: terabytes at scale).
        return _S3Upload(self, key, content_type, part_bytes or MULTIPART_THRESHOLD)

    def publish_staged(self, token: dict) -> None:
        parts = [{"PartNumber": number, "ETag": etag} for number, etag in token["parts"]]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(token["key"]),
                UploadId=token["upload_id"],
                MultipartUpload={"Parts": parts},
            )
        except botocore.exceptions.ClientError as error:
            if _code(error) == "NoSuchUpload" and self.exists(token["key"]):
                return  # completed by an earlier attempt of the publishing step
            raise self._fail(error, token["key"]) from error
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(error, token["key"]) from error

    def move(self, key: str, target: str) -> None:
        # Server-side copy, then delete: no byte passes through the pod.
        try:
            self.client.copy_object(
                Bucket=self.bucket, Key=self._key(target), CopySource={"Bucket": self.bucket, "Key": self._key(key)}
            )
        except botocore.exceptions.ClientError as error:
            if _error_class(error) is ObjectMissing and self.exists(target):
                return  # moved by an earlier attempt
            raise self._fail(error, key) from error
        except botocore.exceptions.BotoCoreError as error:
            raise self._fail(error, key) from error
        self.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        batch: list[dict] = []
        for key in self.list_keys(prefix):
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:  # DeleteObjects takes at most 1,000 keys
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count + self.abort_staged(prefix)

    def abort_staged(self, prefix: str) -> int:
        """Abort the multipart uploads left incomplete under ``prefix`` (a packing step killed
        mid-archive, or its staged archives never published): invisible, but billed for their
        parts until aborted."""
        count = 0
        try:
            paginator = self.client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for upload in page.get("Uploads") or ():
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    count += 1
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, prefix) from error
        return count

    def _delete_batch(self, batch: list[dict]) -> int:
        try:
            answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise self._fail(error, batch[0]["Key"][len(self.prefix) :]) from error
        errors = answer.get("Errors") or []
        if errors:
            first = errors[0]
            raise StorageError(
                f"{self.describe(first['Key'][len(self.prefix) :])}: cannot delete: {first.get('Code')} "
                f"({len(errors)} of {len(batch)} keys not deleted)"
            )
        return len(batch)

    def check(self) -> None:
        """Fail early, naming the bucket, when it is missing or the credentials do not work.

        A one-key listing rather than HEAD: HEAD answers carry no error code, so a wrong
        secret and a bucket policy would both read as a bare 403.
        """
        try:
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            raise _error_class(error)(describe_error(error, f"s3://{self.bucket}")) from error


class _S3Upload(Upload):
    """Parts of ``part_bytes`` (default :data:`MULTIPART_THRESHOLD`), one in memory at a time, nothing on disk. A
    multipart upload becomes visible only when completed, so the object appears whole or not at
    all; an object smaller than one part is a single PUT on commit."""

    def __init__(self, storage: S3Storage, key: str, content_type: str | None, part_bytes: int):
        self.storage, self.key, self.part_bytes = storage, key, part_bytes
        self.extra = {"ContentType": content_type} if content_type else {}
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []

    def _call(self, method: str, **arguments) -> dict:
        storage = self.storage
        try:
            return getattr(storage.client, method)(Bucket=storage.bucket, Key=storage._key(self.key), **arguments)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            self.abort()
            raise storage._fail(error, self.key) from error

    def _send_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self._call("create_multipart_upload", **self.extra)["UploadId"]
        number = len(self.parts) + 1
        answer = self._call("upload_part", UploadId=self.upload_id, PartNumber=number, Body=bytes(self.buffer))
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.buffer.clear()

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        if len(self.buffer) >= self.part_bytes:
            self._send_part()

    def stage(self) -> dict:
        if self.buffer or not self.parts:
            self._send_part()  # the last part may be smaller than the others, even empty
        parts = [[part["PartNumber"], part["ETag"]] for part in self.parts]
        return {"key": self.key, "upload_id": self.upload_id, "parts": parts}

    def commit(self) -> None:
        if self.upload_id is None:
            self._call("put_object", Body=bytes(self.buffer), **self.extra)
            return
        if self.buffer:
            self._send_part()
        self._call("complete_multipart_upload", UploadId=self.upload_id, MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        # An upload left incomplete (a SIGKILL gives no chance to abort) is invisible; the
        # publishing step and `kaleidoscope gc` abort it (abort_staged, delete_prefix), as the
        # bucket's AbortIncompleteMultipartUpload lifecycle rule would.
        upload_id, self.upload_id = self.upload_id, None
        if upload_id is not None:
            with contextlib.suppress(Exception):
                self.storage.client.abort_multipart_upload(
                    Bucket=self.storage.bucket, Key=self.storage._key(self.key), UploadId=upload_id
                )
