"""The Redis store: every key name, TTL and atomic step of readface lives here.

Keys (prefix from settings, default `readface:`):
- `job:{id}` hash: status, created_at, started_at, finished_at, attempts, error_code,
  error_message, fingerprint (model pack), callbacks (JSON list of {url, message_id});
  result TTL once terminal, upload TTL before.
- `upload:{id}` raw bytes, upload TTL, deleted once processed.
- `result:{id}` result JSON and `annotated:{id}` JPEG, result TTL.
- `done:{id}` pub/sub channel, published when the job ends (long-polls wait on it).
- `stats:{name}` global counters (executions, succeeded, failed, dedup_hits, enqueued).
- `rate:{client}:{minute}` fixed-window request counters, 2 minute TTL.
- `pending:{client}` sorted set of the client's pending uploads (`{id}:{bytes}`, scored by
  when the upload expires) and `pending_bytes:{client}` their total, upload TTL; the job hash
  then also holds `client` and `size`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import redis

from shared.jobs import FailureCode, JobStatus
from shared.settings import Settings

# Decides, in one step, what an upload of these bytes means: a stored result of the current pack
# (hit), a job already in flight (join it), a stored permanent failure (failed), or a new job
# (claim: write the job and the upload together). Check-then-set from Python would let two
# concurrent uploads of the same bytes both enqueue. Returns the outcome, the job as it is now
# and, for a hit, the result, so that the answer to the upload needs no further round trip.
_CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
local fingerprint = redis.call('HGET', KEYS[1], 'fingerprint')
if status == 'queued' or status == 'running' then
  if ARGV[3] ~= '' then
    local callbacks = cjson.decode(redis.call('HGET', KEYS[1], 'callbacks') or '[]')
    if #callbacks >= tonumber(ARGV[7]) then return {'callbacks_full', {}} end
    table.insert(callbacks, cjson.decode(ARGV[3]))
    redis.call('HSET', KEYS[1], 'callbacks', cjson.encode(callbacks))
  end
  return {'joined', redis.call('HGETALL', KEYS[1])}
end
if fingerprint == ARGV[1] and (status == 'succeeded' or
    (status == 'failed' and redis.call('HGET', KEYS[1], 'error_code') == 'invalid_image')) then
  local result = redis.call('GET', KEYS[3])
  if result or status == 'failed' then
    redis.call('INCR', KEYS[6])
    return {'stored', redis.call('HGETALL', KEYS[1]), result}
  end
end
local size = string.len(ARGV[6])
if ARGV[8] ~= '' then
  local now = tonumber(ARGV[9])
  -- Uploads that expired unprocessed leave the client's total here, not in a finish step.
  local expired = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now)
  for _, member in ipairs(expired) do
    redis.call('DECRBY', KEYS[8], tonumber(string.match(member, ':(%d+)$')))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now)
  local queued = tonumber(redis.call('GET', KEYS[8]) or '0')
  if queued + size > tonumber(ARGV[10]) then return {'over_quota', {}} end
  redis.call('ZADD', KEYS[7], now + tonumber(ARGV[4]), ARGV[11] .. ':' .. size)
  redis.call('INCRBY', KEYS[8], size)
  redis.call('EXPIRE', KEYS[7], ARGV[4])
  redis.call('EXPIRE', KEYS[8], ARGV[4])
end
local callbacks = '[]'
if ARGV[3] ~= '' then callbacks = '[' .. ARGV[3] .. ']' end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'status', 'queued', 'created_at', ARGV[2], 'fingerprint', ARGV[1],
           'attempts', '0', 'callbacks', callbacks, 'client', ARGV[8], 'size', size)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[6], 'EX', ARGV[4])
redis.call('INCR', KEYS[5])
return {'claimed', redis.call('HGETALL', KEYS[1])}
"""

# Takes a pending job's upload off its client's queued total (when it ends, is released or is
# deleted). The client's keys are named from the job hash, so the prefix comes as ARGV[1].
_UNCOUNT_PENDING = """
local function uncount_pending(job_key, id, prefix)
  local client = redis.call('HGET', job_key, 'client')
  if not client or client == '' then return end
  local size = redis.call('HGET', job_key, 'size')
  if redis.call('ZREM', prefix .. 'pending:' .. client, id .. ':' .. size) == 1 then
    redis.call('DECRBY', prefix .. 'pending_bytes:' .. client, size)
  end
end
"""

# Rolls a claim back when the task could not be sent, so a failed enqueue leaves nothing behind.
_RELEASE = (
    _UNCOUNT_PENDING
    + """
if redis.call('HGET', KEYS[1], 'status') == 'queued' and
   redis.call('HGET', KEYS[1], 'created_at') == ARGV[1] then
  uncount_pending(KEYS[1], ARGV[2], ARGV[3])
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('DECR', KEYS[3])
  return 1
end
return 0
"""
)

# Starts an attempt only while the job is still pending, so a task redelivered after the job
# ended, or one whose job was deleted meanwhile, does not bring the job back.
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('INCR', KEYS[2])
return 1
"""

# Ends a pending job in one step: outcome, TTLs, upload dropped, counter, long-pollers woken.
# A job deleted (or already ended) meanwhile stays as it is: DELETE must not be undone by a
# worker that finishes afterwards.
_FINISH = (
    _UNCOUNT_PENDING
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 0 end
uncount_pending(KEYS[1], ARGV[9], ARGV[10])
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2],
           'error_code', ARGV[3], 'error_message', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('DEL', KEYS[2])
if ARGV[1] == 'succeeded' then
  redis.call('SET', KEYS[3], ARGV[7], 'EX', ARGV[5])
  redis.call('SET', KEYS[4], ARGV[8], 'EX', ARGV[5])
end
redis.call('INCR', KEYS[5])
redis.call('PUBLISH', ARGV[6], ARGV[1])
return 1
"""
)

# Removes every trace of an analysis, and its upload from its client's queued total.
_DELETE = (
    _UNCOUNT_PENDING
    + """
uncount_pending(KEYS[1], ARGV[1], ARGV[2])
return redis.call('DEL', unpack(KEYS))
"""
)

# One request in a client's current one-minute window; the window's key outlives it a little.
_COUNT_REQUEST = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


# Each joined callback makes the job hash (read on every poll) bigger and its joins slower.
MAX_CALLBACKS_PER_JOB = 20


def _await_message(pubsub: redis.client.PubSub, kind: str, channel: bytes, deadline: float) -> bool:
    """Whether a `kind` message on `channel` arrived before the deadline. Messages of channels
    this connection listened to for earlier long-polls may still trail in: they are skipped."""
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=min(left, 1.0))
        if message is not None and message["type"] == kind and message["channel"] == channel:
            return True
    return False


def utc_now() -> str:
    """ISO 8601 UTC with milliseconds and a Z, as the contract shows."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Job:
    """One analysis as stored (see the key table above)."""

    id: str
    status: JobStatus
    created_at: str
    finished_at: str | None
    fingerprint: str
    attempts: int
    error_code: str | None
    error_message: str | None
    callbacks: list[dict[str, str]]

    @classmethod
    def from_hash(cls, analysis_id: str, raw: dict[bytes, bytes]) -> Job | None:
        """The job from its Redis hash; None when there is no job."""
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if "status" not in fields:
            return None
        return cls(
            id=analysis_id,
            status=JobStatus(fields["status"]),
            created_at=fields.get("created_at", ""),
            finished_at=fields.get("finished_at") or None,
            fingerprint=fields.get("fingerprint", ""),
            attempts=int(fields.get("attempts", "0")),
            error_code=fields.get("error_code") or None,
            error_message=fields.get("error_message") or None,
            callbacks=json.loads(fields.get("callbacks") or "[]"),
        )


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    """A job and, once it succeeded, its result: what the analysis resource is built from."""

    job: Job
    result: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of offering bytes: 'claimed' (enqueue), 'joined' (in flight) or 'stored'
    (a dedup hit or a permanent failure), and the analysis as it stands after the claim; or,
    with no analysis, a refusal: 'callbacks_full' (the job in flight has MAX_CALLBACKS_PER_JOB)
    or 'over_quota' (the client's queued uploads would exceed its limit)."""

    outcome: str
    analysis: StoredAnalysis | None


class Store:
    """Every read and write readface makes to Redis.

    redis-py types every reply as `Awaitable | Any` (one signature for sync and async clients);
    the casts below say what this synchronous client returns.
    """

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self.redis = client or redis.Redis.from_url(
            settings.redis_url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
        )
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)
        self._start = self.redis.register_script(_START)
        self._finish = self.redis.register_script(_FINISH)
        self._delete = self.redis.register_script(_DELETE)
        self._count_request = self.redis.register_script(_COUNT_REQUEST)
        self._local = threading.local()

    def key(self, kind: str, name: str) -> str:
        return f"{self.settings.key_prefix}{kind}:{name}"

    def claim(
        self,
        analysis_id: str,
        data: bytes,
        fingerprint: str,
        callback: dict | None,
        client: str | None = None,
    ) -> Claim:
        """Offer uploaded bytes (see _CLAIM). A new job's upload counts against the client's
        queued bytes until the job ends ('over_quota' beyond the limit); None counts nowhere."""
        reply = self._claim(
            keys=[
                self.key("job", analysis_id),
                self.key("upload", analysis_id),
                self.key("result", analysis_id),
                self.key("annotated", analysis_id),
                self.key("stats", "enqueued"),
                self.key("stats", "dedup_hits"),
                self.key("pending", client or ""),
                self.key("pending_bytes", client or ""),
            ],
            args=[
                fingerprint,
                utc_now(),
                json.dumps(callback) if callback else "",
                self.settings.upload_ttl,
                self.settings.result_ttl,
                data,
                MAX_CALLBACKS_PER_JOB,
                client or "",
                int(time.time()),
                self.settings.max_queued_bytes_per_client,
                analysis_id,
            ],
        )
        if not reply[1]:
            return Claim(reply[0].decode(), None)
        flat = reply[1]
        job = Job.from_hash(analysis_id, dict(zip(flat[::2], flat[1::2], strict=True)))
        assert job is not None  # the script returns the job it found or wrote
        result = json.loads(reply[2]) if len(reply) > 2 and reply[2] else None
        return Claim(reply[0].decode(), StoredAnalysis(job, result))

    def release(self, job: Job) -> None:
        """Undo a claim whose task could not be enqueued."""
        self._release(
            keys=[
                self.key("job", job.id),
                self.key("upload", job.id),
                self.key("stats", "enqueued"),
            ],
            args=[job.created_at, job.id, self.settings.key_prefix],
        )

    def job(self, analysis_id: str) -> Job | None:
        raw = cast(dict[bytes, bytes], self.redis.hgetall(self.key("job", analysis_id)))
        return Job.from_hash(analysis_id, raw)

    def analysis(self, analysis_id: str) -> StoredAnalysis | None:
        """The job and its result, read together in one round trip; None if there is no job."""
        with self.redis.pipeline() as pipe:
            pipe.hgetall(self.key("job", analysis_id))
            pipe.get(self.key("result", analysis_id))
            raw, result = pipe.execute()
        job = Job.from_hash(analysis_id, raw)
        if job is None:
            return None
        stored = json.loads(result) if result and job.status is JobStatus.SUCCEEDED else None
        return StoredAnalysis(job, stored)

    def upload(self, analysis_id: str) -> bytes | None:
        return cast(bytes | None, self.redis.get(self.key("upload", analysis_id)))

    def annotated(self, analysis_id: str) -> bytes | None:
        return cast(bytes | None, self.redis.get(self.key("annotated", analysis_id)))

    def mark_running(self, analysis_id: str) -> bool:
        """Queued (or redelivered running) job → running; False if the job is gone or ended."""
        started = self._start(
            keys=[self.key("job", analysis_id), self.key("stats", "executions")], args=[utc_now()]
        )
        return bool(started)

    def succeed(self, analysis_id: str, result: dict[str, Any], annotated: bytes) -> bool:
        """Store the result and annotated image, end the job, drop the upload, wake pollers."""
        return self._end(analysis_id, JobStatus.SUCCEEDED, "", "", json.dumps(result), annotated)

    def fail(self, analysis_id: str, code: FailureCode, message: str) -> bool:
        """End the job as failed with a contract error code; wake pollers."""
        return self._end(analysis_id, JobStatus.FAILED, code.value, message)

    def _end(
        self,
        analysis_id: str,
        status: JobStatus,
        error_code: str,
        error_message: str,
        result: str = "",
        annotated: bytes = b"",
    ) -> bool:
        """False when the job was deleted or had already ended (nothing is written then)."""
        ended = self._finish(
            keys=[
                self.key("job", analysis_id),
                self.key("upload", analysis_id),
                self.key("result", analysis_id),
                self.key("annotated", analysis_id),
                self.key("stats", status.value),
            ],
            args=[
                status.value,
                utc_now(),
                error_code,
                error_message,
                self.settings.result_ttl,
                self.key("done", analysis_id),
                result,
                annotated,
                analysis_id,
                self.settings.key_prefix,
            ],
        )
        return bool(ended)

    def delete(self, analysis_id: str) -> bool:
        """Remove every trace of an analysis; False if there was none."""
        removed = self._delete(
            keys=[self.key(kind, analysis_id) for kind in ("job", "upload", "result", "annotated")],
            args=[analysis_id, self.settings.key_prefix],
        )
        return cast(int, removed) > 0

    def wait_for_end(self, analysis_id: str, timeout: float) -> StoredAnalysis | None:
        """The analysis once it has ended, or as it is when the timeout passes (pub/sub, no
        busy polling); None if there is no such job."""
        if timeout <= 0:
            return self.analysis(analysis_id)
        deadline = time.monotonic() + timeout
        channel = self.key("done", analysis_id).encode()
        with self._subscription(channel) as pubsub:
            # Read once the subscription is confirmed, so an end published before it is seen
            # in the job and one published after it arrives as a message.
            if _await_message(pubsub, "subscribe", channel, deadline):
                found = self.analysis(analysis_id)
                if found is None or found.job.status.terminal:
                    return found
                _await_message(pubsub, "message", channel, deadline)
        return self.analysis(analysis_id)

    @contextmanager
    def _subscription(self, channel: bytes) -> Iterator[redis.client.PubSub]:
        """This thread's pub/sub connection, subscribed to the channel for a while. It is kept
        between long-polls, because closing one costs a reconnect; after an error it is closed,
        so that the next long-poll starts on a sound connection."""
        pubsub = getattr(self._local, "pubsub", None)
        if pubsub is None:
            pubsub = self._local.pubsub = self.redis.pubsub()
        try:
            pubsub.subscribe(channel)
            yield pubsub
        except BaseException:
            self._local.pubsub = None
            pubsub.close()
            raise
        pubsub.unsubscribe(channel)

    def counters(self) -> dict[str, int]:
        names = ["executions", "succeeded", "failed", "dedup_hits", "enqueued"]
        values = cast(list[bytes | None], self.redis.mget([self.key("stats", n) for n in names]))
        return {n: int(v or 0) for n, v in zip(names, values, strict=True)}

    def hit_rate_limit(self, client: str, limit: int) -> int | None:
        """Count one request; seconds until the window resets if over the limit, else None."""
        now = time.time()
        window = int(now // 60)
        count = self._count_request(keys=[self.key("rate", f"{client}:{window}")], args=[120])
        return max(1, int(60 - now % 60)) if count > limit else None

    def queue_depth(self, queue: str) -> int:
        return cast(int, self.redis.llen(queue))

    def scan_keys(self, analysis_id: str | None = None) -> Iterator[bytes]:
        """Every key under the prefix (or one analysis's keys), for tests and audits."""
        pattern = f"{self.settings.key_prefix}*{analysis_id or ''}*"
        yield from self.redis.scan_iter(match=pattern, count=500)
