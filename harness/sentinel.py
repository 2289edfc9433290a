"""A real Redis Sentinel deployment for tests and benchmarks: a primary, replicas and three
sentinels (redis-server, in sentinel mode for those) on free local ports, with failover timings
short enough for a test. Uploads that ride out a failover: harness/retried_uploads.py."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis

from cli.processes import free_port, redis_server_binary, redis_url, stop, wait_for_redis
from harness.service import poll

MASTER_NAME = "readface"
QUORUM = 2
# A primary that has not answered for this long is down; the sentinels then agree, elect a
# leader and promote a replica (about 2-3 s after the kill in all).
DOWN_AFTER_MS = 1000
# How long a failover may take before another is tried (then 2x this).
FAILOVER_TIMEOUT_MS = 3000


@dataclass
class Node:
    """One redis-server (or sentinel) with its own config file and directory."""

    name: str
    port: int
    directory: Path
    config: list[str]
    sentinel: bool = False
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, extra: list[str] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # A file, not stdin: a sentinel rewrites its config as it learns the deployment.
        path = self.directory / f"{self.name}.conf"
        path.write_text("\n".join([*self.config, *(extra or [])]) + "\n")
        command = [redis_server_binary(), str(path), *(["--sentinel"] if self.sentinel else [])]
        with (self.directory / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        wait_for_redis(redis_url(self.port, self.password), self.process)

    def client(self) -> redis.Redis:
        return redis.Redis(
            port=self.port, password=self.password, socket_timeout=2, socket_connect_timeout=1
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed, connections cut."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def _data_config(port: int, directory: Path) -> list[str]:
    return [
        f"port {port}",
        "bind 127.0.0.1",
        f'dir "{directory}"',
        'save ""',
        "appendonly no",
        # a replica that (re)joins gets its full copy at once, not after the default 5 s wait
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
    ]


def _fields(flat: list[bytes]) -> dict[str, str]:
    """A sentinel's flat name/value reply as a dict (redis-py 6.4's own parser of SENTINEL
    MASTER fails on a plain client)."""
    text = [item.decode() for item in flat]
    return dict(zip(text[::2], text[1::2], strict=True))


def _named_by(sentinel: Node) -> int | None:
    """The primary's port as this sentinel names it now."""
    address = sentinel.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
    return int(address[1]) if address else None


@dataclass
class SentinelDeployment:
    """Primary (`data[0]` at first), replicas and sentinels; `url` is READFACE_REDIS_URL.
    With passwords, the data nodes (`password`) and the sentinels (`sentinel_password`) each
    refuse clients without theirs."""

    root: Path
    password: str | None = None
    sentinel_password: str | None = None
    data: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        login = f":{quote(self.password, safe='')}@" if self.password else ""
        login_sentinels = (
            f"&sentinel_password={quote(self.sentinel_password, safe='')}"
            if self.sentinel_password
            else ""
        )
        return f"sentinel://{login}{hosts}/0?master={MASTER_NAME}{login_sentinels}"

    def start(self, replicas: int = 1, sentinels: int = 3) -> None:
        for index in range(1 + replicas):
            port = free_port()
            directory = self.root / f"redis-{index}"
            config = _data_config(port, directory)
            if self.password:  # replicas log in to their primary with it too
                config += [f"requirepass {self.password}", f"masterauth {self.password}"]
            self.data.append(
                Node(f"redis-{index}", port, directory, config, password=self.password)
            )
        primary = self.data[0]
        primary.start()
        for replica in self.data[1:]:
            replica.start([f"replicaof 127.0.0.1 {primary.port}"])
        for index in range(sentinels):
            port = free_port()
            config = [
                f"port {port}",
                "bind 127.0.0.1",
                f'dir "{self.root}"',
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary.port} {QUORUM}",
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                f"sentinel parallel-syncs {MASTER_NAME} 1",
            ]
            if self.password:
                config.append(f"sentinel auth-pass {MASTER_NAME} {self.password}")
            if self.sentinel_password:  # for clients, and for the other sentinels
                config += [
                    f"requirepass {self.sentinel_password}",
                    f"sentinel sentinel-pass {self.sentinel_password}",
                ]
            node = Node(
                f"sentinel-{index}",
                port,
                self.root / "sentinels",
                config,
                sentinel=True,
                password=self.sentinel_password,
            )
            node.start()
            self.sentinels.append(node)
        poll(lambda: self._settled(replicas, sentinels), 30, "the sentinels to know each other")

    def _settled(self, replicas: int, sentinels: int) -> bool:
        """Every sentinel sees the primary, its replicas linked, and every other sentinel (the
        hello messages take a few seconds): only then can they agree on a failover."""
        for sentinel in self.sentinels:
            client = sentinel.client()
            state = _fields(client.execute_command("SENTINEL", "MASTER", MASTER_NAME))
            if int(state["num-other-sentinels"]) != sentinels - 1:
                return False
            linked = [
                fields
                for flat in client.execute_command("SENTINEL", "REPLICAS", MASTER_NAME)
                if (fields := _fields(flat))["master-link-status"] == "ok"
                and "s_down" not in fields["flags"]
            ]
            if len(linked) != replicas:
                return False
        return True

    def primary_port(self) -> int | None:
        """The port the sentinels name as the primary (the first that answers)."""
        for sentinel in self.sentinels:
            try:
                port = _named_by(sentinel)
            except redis.ConnectionError:
                continue
            if port is not None:
                return port
        return None

    def node(self, port: int) -> Node:
        return next(node for node in self.data if node.port == port)

    def primary(self) -> Node:
        port = self.primary_port()
        assert port is not None, "no sentinel names a primary"
        return self.node(port)

    def wait_promoted(self, old: Node, timeout: float = 30) -> Node:
        """The replica every sentinel names as the primary after `old` went down."""

        def promoted() -> Node | None:
            ports = {_named_by(sentinel) for sentinel in self.sentinels}
            if len(ports) != 1 or old.port in ports or None in ports:
                return None
            new = self.node(ports.pop())  # type: ignore[arg-type]
            role = new.client().role()
            return new if role[0] == b"master" else None

        return poll(promoted, timeout, "a replica to be promoted", every=0.02)  # type: ignore[return-value]

    def rejoin(self, node: Node) -> None:
        """Start a node that went down again as a replica of the current primary, as a
        supervisor (or the Kubernetes init step of deploy/k8s/sentinel) does."""
        node.start([f"replicaof 127.0.0.1 {self.primary().port}"])

    def stop(self) -> None:
        for node in [*self.sentinels, *self.data]:
            node.stop()


@contextmanager
def running_sentinel_deployment(
    root: Path,
    replicas: int = 1,
    password: str | None = None,
    sentinel_password: str | None = None,
) -> Iterator[SentinelDeployment]:
    deployment = SentinelDeployment(root, password, sentinel_password)
    try:
        deployment.start(replicas)
        yield deployment
    finally:
        deployment.stop()
