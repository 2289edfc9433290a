"""The Redis store: every key name, TTL and atomic step of readface lives in this package.

`keys` names the keys and their lifetimes, `scripts` holds the Lua that makes each job step
atomic, and the Store is assembled from one part per concern: the steps of a job's life
(`job_steps`), which job runs next (`dispatch`), waiting for them to end (`longpoll`), counters
and rate windows (`counters`), and what Redis knows of the blob store that holds the bytes
(`blob_refs`).
"""

from __future__ import annotations

import copy
import threading

import redis

from shared.redis_connection import dead_peer_options, redis_client
from shared.settings import Settings
from shared.store import scripts
from shared.store.blob_refs import BlobRefs
from shared.store.counters import Counters
from shared.store.dispatch import DISPATCH, Dispatches, Started
from shared.store.keys import MAX_CALLBACKS_PER_JOB
from shared.store.longpoll import EndNotices, LongPolls
from shared.store.records import (
    Callback,
    Claim,
    ClaimOutcome,
    Job,
    JobBlobs,
    StoredAnalysis,
    utc_now,
)
from shared.store.replication import Replication
from shared.store.sweep import SWEEP, TO_FRONT, DueJob, Sweeps
from shared.tenants import is_tenant_name

__all__ = [
    "MAX_CALLBACKS_PER_JOB",
    "Callback",
    "Claim",
    "ClaimOutcome",
    "DueJob",
    "Job",
    "JobBlobs",
    "Started",
    "Store",
    "StoredAnalysis",
    "utc_now",
]


class Store(LongPolls, Counters, Sweeps, Replication, BlobRefs, Dispatches):
    """Every read and write readface makes to Redis.

    redis-py types every reply as `Awaitable | Any` (one signature for sync and async clients);
    the casts in its parts say what this synchronous client returns.
    """

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        options = {**dead_peer_options(settings.redis_url), "socket_connect_timeout": 2}
        self.redis = client or redis_client(settings.redis_url, **options)
        self._claim = self.redis.register_script(scripts.CLAIM)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._start = self.redis.register_script(scripts.START)
        self._finish = self.redis.register_script(scripts.FINISH)
        self._strike_hard_limit = self.redis.register_script(scripts.STRIKE_HARD_LIMIT)
        self._delete = self.redis.register_script(scripts.DELETE)
        self._count_request = self.redis.register_script(scripts.COUNT_REQUEST)
        self._sweep = self.redis.register_script(SWEEP)
        self._to_front = self.redis.register_script(TO_FRONT)
        self._dispatch = self.redis.register_script(DISPATCH)
        self._local = threading.local()
        self._end_notices = EndNotices(self.redis, settings.key_prefix)
        self.tenant = ""

    def for_tenant(self, tenant: str) -> Store:
        """This store with its analyses scoped to a tenant ("" is the unscoped store of a service
        without API keys). It shares the connection, the scripts and the long-poll subscriptions."""
        if tenant and not is_tenant_name(tenant):
            raise ValueError(f"Not a tenant name: {tenant!r}")
        scoped = copy.copy(self)
        scoped.tenant = tenant
        return scoped
