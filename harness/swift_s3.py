"""A real S3-compatible server for tests: OpenStack Swift from Debian's packages as a one-node
"SAIO" (Swift All In One). Account, container and object servers keep their data in a folder of
the test's (mount_check off, one replica), and a proxy serves S3 through Swift's s3api
middleware, authenticated by tempauth (whose tokens memcached holds). All on free loopback
ports, started by the tests and stopped with them; `make system-deps` installs the packages.
If the server cannot start, the test fails: nothing is skipped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cli.processes import free_port, stop
from harness.service import poll

# Debian's swift is a package of the system's Python, not of the project's virtualenv.
SWIFT_PYTHON = "/usr/bin/python3"
ACCESS_KEY, SECRET_KEY = "test:tester", "testing"
BUCKET = "readface-test"
SERVERS = ("account", "container", "object")

# Runs one Swift server from its paste config; swift.conf is read from the folder given, not
# from /etc/swift.
LAUNCH = """
import sys
from swift.common import utils
utils.set_swift_dir(sys.argv[1])
from swift.common.wsgi import run_wsgi
sys.exit(run_wsgi(sys.argv[2], sys.argv[3], verbose=True))
"""
# One device per ring, one replica, on the servers' ports (argv: folder, then three ports).
BUILD_RINGS = """
import sys
from swift.common.ring import RingBuilder
for kind, port in zip(("account", "container", "object"), sys.argv[2:5]):
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 1})
    builder.rebalance()
    builder.get_ring().save(f"{sys.argv[1]}/{kind}.ring.gz")
"""
SWIFT_CONF = """[swift-hash]
swift_hash_path_suffix = readface-test
swift_hash_path_prefix = readface-test
[storage-policy:0]
name = Policy-0
default = yes
"""
SERVER_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
devices = {folder}/devices
mount_check = false
swift_dir = {folder}
workers = 0
log_level = WARNING
[pipeline:main]
pipeline = {kind}-server
[app:{kind}-server]
use = egg:swift#{kind}
"""
PROXY_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
swift_dir = {folder}
workers = 0
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo
  dlo proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:s3api]
use = egg:swift#s3api
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
"""


@dataclass
class SwiftS3:
    """A running Swift with s3api; the proxy can be stopped and started again (the store down)."""

    folder: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    def env(self) -> dict[str, str]:
        """The usual AWS settings that point boto3 (and so readface) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def blob_url(self, prefix: str) -> str:
        return f"s3://{BUCKET}/{prefix}"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )

    def start(self) -> None:
        for program in (SWIFT_PYTHON, "memcached"):
            if shutil.which(program) is None:
                raise AssertionError(f"{program} is missing: run `make system-deps`")
        self.ports = {name: free_port() for name in (*SERVERS, "proxy", "memcached")}
        (self.folder / "devices" / "d1").mkdir(parents=True)
        (self.folder / "swift.conf").write_text(SWIFT_CONF)
        for kind in SERVERS:
            (self.folder / f"{kind}-server.conf").write_text(
                SERVER_CONF.format(port=self.ports[kind], folder=self.folder, kind=kind)
            )
        (self.folder / "proxy-server.conf").write_text(
            PROXY_CONF.format(
                port=self.ports["proxy"], folder=self.folder, memcached=self.ports["memcached"]
            )
        )
        ports = [str(self.ports[kind]) for kind in SERVERS]
        subprocess.run(
            [SWIFT_PYTHON, "-c", BUILD_RINGS, str(self.folder), *ports], check=True, timeout=60
        )
        memcached = ["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]), "-U", "0"]
        # memcached refuses to run as root unless told which user to be
        self._spawn("memcached", memcached + (["-u", "root"] if os.geteuid() == 0 else []))
        for kind in SERVERS:
            self._spawn_server(kind)
        # A request to a server not yet listening counts against it in the proxy, which stops
        # trying a node (503, s3api's SlowDown) for a minute once it has failed ten times.
        for kind in SERVERS:
            poll(lambda kind=kind: self._listens(kind), 60, f"Swift's {kind} server to listen")
        self.start_proxy()
        poll(self._bucket_created, 60, "Swift to create the bucket", every=0.2)
        poll(self._object_written, 60, "Swift to write an object", every=0.2)

    def start_proxy(self) -> None:
        self._spawn_server("proxy")
        poll(self._answers, 60, "Swift's S3 API to answer", every=0.2)

    def stop_proxy(self) -> None:
        stop(self.processes.pop("proxy"))

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            stop(process)
        self.processes.clear()

    def _spawn_server(self, kind: str) -> None:
        config = str(self.folder / f"{kind}-server.conf")
        self._spawn(kind, [SWIFT_PYTHON, "-c", LAUNCH, str(self.folder), config, f"{kind}-server"])

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.folder / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                command, stdout=log, stderr=log, start_new_session=True
            )

    def _bucket_created(self) -> bool:
        try:
            self.client().create_bucket(Bucket=BUCKET)
        except ClientError as error:
            if error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou":
                return True
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 503:
                return False
            raise
        return True

    def _listens(self, kind: str) -> bool:
        self._assert_running()
        try:
            socket.create_connection(("127.0.0.1", self.ports[kind]), timeout=1).close()
        except OSError:
            return False
        return True

    def _object_written(self) -> bool:
        client = self.client()
        try:
            client.put_object(Bucket=BUCKET, Key="ready-probe", Body=b"ready")
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 503:
                return False
            raise
        client.delete_object(Bucket=BUCKET, Key="ready-probe")
        return True

    def _assert_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.folder / f"{name}.log").read_text()[-2000:]
                raise AssertionError(f"Swift's {name} exited with {process.returncode}: {log}")

    def _answers(self) -> bool:
        self._assert_running()
        try:
            self.client().list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True


@contextmanager
def running_swift(folder: Path) -> Iterator[SwiftS3]:
    with ExitStack() as cleanup:
        server = SwiftS3(folder)
        cleanup.callback(server.stop)
        server.start()
        yield server
