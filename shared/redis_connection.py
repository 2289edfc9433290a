"""Redis connections from READFACE_REDIS_URL: one Redis (`redis://`, `rediss://`, `unix://`) or
the primary that Redis Sentinel names (`sentinel://`).

    sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][/DB]?master=NAME[&sentinel_password=P]

The hosts are the sentinels (port 26379 unless given), `master` the name they monitor.
USER:PASSWORD log in to the primary and its replicas (their `requirepass`/ACL user);
`sentinel_password` (and `sentinel_username`) to the sentinels themselves, when they have a
`requirepass` of their own. Both are percent-decoded, like any URL's. Every client readface makes
(the store, the long-poll pub/sub, the Celery broker) asks the sentinels for the primary when it
connects, so after a failover each reconnects to the promoted replica on its own.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

SENTINEL_SCHEME = "sentinel"
SENTINEL_PORT = 26379
# While the sentinels fail over (their down-after-milliseconds, an election, the promotion), a
# connection asks them for the primary again 8 times over 3-6 s, at most 1 s apart so that the
# first attempt after the promotion comes soon; a command that was cut off does that up to 8
# times more. Only refused or reset connections are retried: a timeout (a primary gone without
# a word) fails at once, and the next connection asks the sentinels afresh.
FAILOVER_RETRY = Retry(
    EqualJitterBackoff(cap=1.0, base=0.1), retries=8, supported_errors=(redis.ConnectionError,)
)


class PrimaryConnection(SentinelManagedConnection):
    """A connection to the primary that asks the sentinels where it is whenever it (re)connects.

    redis-py 6.4 reconnects a dropped connection to the address it had (send_packed_command ->
    connect_check_health skips the sentinel lookup; redis/redis-py#3874): after a failover, a
    command being retried goes to the old primary, refused while it is down, then a read-only
    replica once it is back (or a primary holding stale data, if it restarted as one before the
    sentinels demoted it). kombu's connections retry nothing themselves (every error goes back
    to kombu, which reconnects through the pool, asking the sentinels), so the broker keeps
    redis-py's own class."""

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if self._sock is None and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        # one attempt per lookup: the callers' retries ask the sentinels again each time
        super().connect_check_health(check_health=check_health, retry_socket_connect=False)


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """A parsed `sentinel://` URL."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def parse_sentinel_url(url: str) -> SentinelUrl | None:
    """The Sentinel deployment a `sentinel://` URL names; None for any other URL. ValueError
    (naming the part, never the password) when it is malformed."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() != SENTINEL_SCHEME:
        return None
    parts = urlsplit(f"//{rest}")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    sentinels = tuple(_host_port(host) for host in hosts.split(",") if host)
    if not sentinels:
        raise ValueError("A sentinel:// URL names at least one sentinel host.")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    master = query.get("master")
    if not master:
        raise ValueError("A sentinel:// URL needs ?master=NAME, the name the sentinels monitor.")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"The database of a sentinel:// URL is a number, not {db!r}.")
    return SentinelUrl(
        sentinels=sentinels,
        master=master,
        db=int(db),
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_username=query.get("sentinel_username") or None,
        sentinel_password=query.get("sentinel_password") or None,
    )


def _host_port(host: str) -> tuple[str, int]:
    probe = urlsplit(f"//{host}")
    try:
        port = probe.port or SENTINEL_PORT
    except ValueError:
        raise ValueError(f"Not a sentinel address: {host!r}.") from None
    if not probe.hostname:
        raise ValueError(f"Not a sentinel address: {host!r}.")
    return probe.hostname, port


# A Redis gone without closing the connection (its host lost, a partition) fails a command
# within seconds instead of never: replies and connections time out, TCP keepalive probes an idle
# connection (first after 5 s, then every 2 s, 3 misses: gone), and redis-py PINGs a connection
# idle for 5 s before using it.
DEAD_PEER_SECONDS = 5
_KEEPALIVE = {socket.TCP_KEEPIDLE: 5, socket.TCP_KEEPINTVL: 2, socket.TCP_KEEPCNT: 3}


def dead_peer_options(url: str) -> dict[str, Any]:
    """The redis-py (and kombu transport) options that notice a dead Redis at `url` within
    seconds; keepalive only over TCP (a unix socket has no peer to lose)."""
    options: dict[str, Any] = {
        "socket_timeout": DEAD_PEER_SECONDS,
        "socket_connect_timeout": DEAD_PEER_SECONDS,
        "health_check_interval": DEAD_PEER_SECONDS,
    }
    if not url.startswith("unix:"):
        options.update(socket_keepalive=True, socket_keepalive_options=_KEEPALIVE)
    return options


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A client of the Redis `url` names (for Sentinel: of the current primary, re-asked on
    every reconnection), with redis-py connection options such as socket_timeout."""
    target = parse_sentinel_url(url)
    if target is None:
        return redis.Redis.from_url(url, **options)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=_sentinel_kwargs(target, options))
    return sentinel.master_for(
        target.master,
        db=target.db,
        username=target.username,
        password=target.password,
        retry=FAILOVER_RETRY,
        connection_class=PrimaryConnection,
        **options,
    )


def broker_url(url: str) -> str:
    """Celery's broker URL for `url`: kombu takes one `sentinel://` URL per sentinel, joined by
    `;`; it logs in to the primary with the first one's credentials."""
    target = parse_sentinel_url(url)
    if target is None:
        return url
    auth = ""
    if target.username or target.password:
        auth = f"{quote(target.username or '', safe='')}:{quote(target.password or '', safe='')}@"
    return ";".join(
        f"{SENTINEL_SCHEME}://{auth}{_netloc(host)}:{port}/{target.db}"
        for host, port in target.sentinels
    )


def _netloc(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def broker_sentinel_options(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """The broker transport options kombu's Sentinel transport needs for `url` (none for other
    URLs): the master's name and how to reach the sentinels."""
    target = parse_sentinel_url(url)
    if target is None:
        return {}
    return {
        "master_name": target.master,
        "sentinel_kwargs": _sentinel_kwargs(target, options),
    }


def _sentinel_kwargs(target: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    """How to connect to the sentinels themselves: the socket timeouts of `options`, and the
    sentinels' own login if any (never the primary's)."""
    login = {"username": target.sentinel_username, "password": target.sentinel_password}
    return {
        **{name: value for name, value in options.items() if name.startswith("socket_")},
        **{name: value for name, value in login.items() if value},
    }
