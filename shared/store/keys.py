"""Every key readface writes to Redis, and how long each lives.

Keys (prefix from settings, default `readface:`). An analysis's keys (job, result, done) belong
to a tenant: with API keys on they are named `tenant:{name}:{kind}:{id}`,
so the same bytes sent by two tenants are two analyses that neither can see from the other; with
keys off the tenant is "" and they are `{kind}:{id}`. Counters and client keys are not scoped.
- `job:{id}` hash: status, created_at, started_at, finished_at, attempts, error_code,
  error_message, fingerprint (model pack), callbacks (JSON list of {url, message_id}), and while
  pending the uploading client, the upload's size and `upload`, the token of its blob (the bytes
  are in the blob store, shared/blobs); once succeeded `annotated`, the token of the annotated
  image's blob; while running the attempt (task id)
  and when its lease ends (`lease_until`, ms on Redis's clock); with READFACE_REDIS_ACK_REPLICAS,
  `enqueued_at` once the API has sent its message (replication.py); the upload TTL before it
  ends, the result TTL after. `cost`, what it counts against its client's quota; and, for
  fair dispatch to be checked (shared/store/dispatch.py), `executions_at_claim` and `execution`,
  the executions counter when it was claimed and as its last attempt started: the jobs started
  in between overtook it; `hard_limits`, how many times the hard limit killed a run of it
  (worker/failures.py).
- `result:{id}` result JSON, result TTL.
- `done:{id}` pub/sub channel, published when the job ends (long-polls wait on it).
- `stats:{name}` global counters (executions, succeeded, failed, dedup_hits, enqueued), and
  `stats:blob_bytes`, the bytes in the blob store (for READFACE_BLOB_MAX_BYTES): added to by every
  write, taken from by every upload deleted, set to what is there by each blob sweep.
- `rate:{client}:{minute}` fixed-window request counters, RATE_WINDOW_TTL. A client is
  `tenant:{name}` with keys on, else the caller's address.
- `pending:{client}` sorted set of the client's pending uploads (`{id}:{cost}`, scored by
  when the upload expires) and `pending_bytes:{client}` their total, upload TTL. A job's cost is
  its work counted in bytes (shared/work_quota.py), also the job hash's `cost`.
- `sweep:queued` and `sweep:running` sorted sets of pending jobs' `job:` keys, for the sweeper
  (shared/store/sweep.py): queued jobs scored by when their message was last sent, running ones
  by when their attempt's lease ends (ms on Redis's clock); upload TTL.
- `sweep:blobs` whose turn it is to sweep the blob store (shared/blobs/sweep.py), one interval.
- `fair:queue:{client}` list of the client's waiting jobs' `job:` keys, oldest first;
  `fair:turns` sorted set of the clients with jobs waiting, in the order of their turns, and
  `fair:served` the count of turns taken (shared/store/dispatch.py); upload TTL (the jobs of a
  client given its turn more than that ago have expired).
- `attempt:{task id}` the `job:` key a message's attempt runs (dispatch.py), upload TTL.

The upload and result TTLs are settings (READFACE_UPLOAD_TTL, READFACE_RESULT_TTL).
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from shared.settings import Settings

# A one-minute rate window's counter outlives its minute a little, for clocks a bit apart.
RATE_WINDOW_SECONDS = 60
RATE_WINDOW_TTL = 120
# Each joined callback makes the job hash (read on every poll) bigger and its joins slower.
MAX_CALLBACKS_PER_JOB = 20
# An attempt holds its running job (no other message starts it) for the hard time limit plus
# this, and a job whose message was lost is sent again once as long has passed: a healthy attempt
# has ended by then, or been killed at the hard limit and its failure written. The broker's own
# restore uses the same timeout (shared/celery_app.py), where the margin also covers the clocks
# of hosts a little apart.
LEASE_MARGIN_SECONDS = 15
# Every kind of key an analysis has in Redis; DELETE removes them all (and then its blobs).
ANALYSIS_KEY_KINDS = ("job", "result")


def attempt_lease_seconds(settings: Settings) -> float:
    """How long an attempt holds its job, and how long a sent job may go unstarted."""
    return settings.task_hard_time_limit + LEASE_MARGIN_SECONDS


@dataclass(frozen=True, slots=True)
class DueJob:
    """A pending analysis: its tenant ("" without API keys) and its id."""

    tenant: str
    id: str


class KeyedStore:
    """What every part of the Store has: the settings, the connection and the key names."""

    settings: Settings
    redis: redis.Redis
    tenant: str

    def key(self, kind: str, name: str) -> str:
        """A key shared by every tenant (counters, rate windows, a client's pending uploads)."""
        return f"{self.settings.key_prefix}{kind}:{name}"

    def analysis_key(self, kind: str, analysis_id: str, tenant: str | None = None) -> str:
        """A key of one analysis of this store's tenant (or of another one, for the sweepers)."""
        tenant = self.tenant if tenant is None else tenant
        scope = f"tenant:{tenant}:" if tenant else ""
        return f"{self.settings.key_prefix}{scope}{kind}:{analysis_id}"

    def job_ref(self, job_key: str) -> DueJob:
        """The tenant and id a job key names (analysis_key, read backwards)."""
        scoped = job_key.removeprefix(self.settings.key_prefix)
        tenant = scoped.split(":", 2)[1] if scoped.startswith("tenant:") else ""
        return DueJob(tenant, scoped.rsplit(":", 1)[1])
