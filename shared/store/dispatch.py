"""Fair dispatch: which waiting job a worker runs next, so that no client starves another.

An analysis message is a ticket: the API sends one for every new job, and the job it names is
only the one run when nothing else waits. A job, when claimed (scripts.CLAIM), joins its client's
fair queue, `fair:queue:{client}` (a client is a tenant with API keys on, else an address), and
the client gets a turn in `fair:turns` unless it has one. A worker taking a ticket runs the oldest
job of the client whose turn it is, in one step with starting it (DISPATCH), and that client
goes to the back of the turns if it has more waiting. A client with nothing waiting joins just
ahead of the client served last (clients that joined since that turn go in the order of their
names), so its first job is the next one started once the others have had a turn: one client's
queued work delays another's single photo by the jobs already running and at most one. There are
as many tickets as waiting jobs (one per claim; the sweeper sends one for each it finds lost),
so while jobs wait, every free worker process has a ticket to take.

What Celery redelivers (a retry, a message restored after its worker was lost) is the same task
id again: `attempt:{task id}` says which job that attempt runs, and it runs that one again
(START lets the same attempt start a running job), never a second one. The worker's failure
handler, which runs where the attempt's process is gone, reads the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.commands.core import Script

from shared.store.keys import DueJob, KeyedStore, attempt_lease_seconds
from shared.store.records import Job, utc_now
from shared.store.scripts import NOW_MS, START_JOB

# Entries looked at in one step at most: left by jobs that ended or were deleted while waiting,
# each is dropped as it is met. A step runs inside Redis and blocks it meanwhile.
MAX_ENTRIES_PER_STEP = 100

# KEYS: the turns, their count, the executions counter, the sweeper's queued and running indexes,
# this attempt's key, the job the message names. ARGV: when it starts, the attempt (task id), the
# lease in ms, the upload TTL, the key prefix, MAX_ENTRIES_PER_STEP. Returns the started job's
# key and hash, or 0 when nothing started (the attempt's job ended, or nothing is pending).
DISPATCH = (
    NOW_MS
    + START_JOB
    + """
local now = now_ms()
local function run(job_key)
  local started = start(job_key, now, ARGV[1], ARGV[2], ARGV[3], ARGV[4], KEYS[3], KEYS[4], KEYS[5])
  if not started then return false end
  redis.call('SET', KEYS[6], job_key, 'EX', ARGV[4])
  return {job_key, started}
end
local held = redis.call('GET', KEYS[6])
if held then return run(held) or 0 end
-- a job claimed by an earlier release is in no fair queue: its own message runs it
if redis.call('HGET', KEYS[7], 'status') == 'queued' and
   redis.call('HEXISTS', KEYS[7], 'cost') == 0 then
  return run(KEYS[7]) or 0
end
for _ = 1, tonumber(ARGV[6]) do
  local client = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not client then break end
  local queue = ARGV[5] .. 'fair:queue:' .. client
  local job_key = redis.call('LPOP', queue)
  if redis.call('LLEN', queue) > 0 then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), client)
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  else
    redis.call('ZREM', KEYS[1], client)
  end
  -- an entry whose job ended, was deleted, or is held by a live attempt is dropped
  local ran = job_key and run(job_key)
  if ran then return ran end
end
return run(KEYS[7]) or 0
"""
)


@dataclass(frozen=True, slots=True)
class Started:
    """The job an attempt started, and its tenant."""

    tenant: str
    job: Job


class Dispatches(KeyedStore):
    """The dispatching part of the Store."""

    _dispatch: Script

    def dispatch(self, analysis_id: str, tenant: str, attempt: str) -> Started | None:
        """Start, for the attempt (a task id) of a message naming `analysis_id` of `tenant`, the
        job whose turn it is (see DISPATCH); None if none started."""
        reply = self._dispatch(
            keys=[
                self.key("fair", "turns"),
                self.key("fair", "served"),
                self.key("stats", "executions"),
                self.key("sweep", "queued"),
                self.key("sweep", "running"),
                self.key("attempt", attempt),
                self.analysis_key("job", analysis_id, tenant),
            ],
            args=[
                utc_now(),
                attempt,
                int(attempt_lease_seconds(self.settings) * 1000),
                self.settings.upload_ttl,
                self.settings.key_prefix,
                MAX_ENTRIES_PER_STEP,
            ],
        )
        if not reply:
            return None
        job_key, flat = cast(list, reply)
        ref = self.job_ref(job_key.decode())
        job = Job.from_hash(ref.id, dict(zip(flat[::2], flat[1::2], strict=True)))
        assert job is not None  # the script returns the job it started
        return Started(ref.tenant, job)

    def attempt_job(self, attempt: str) -> DueJob | None:
        """The job an attempt (a task id) started, if it started one."""
        job_key = cast(bytes | None, self.redis.get(self.key("attempt", attempt)))
        return self.job_ref(job_key.decode()) if job_key else None
