"""Pending jobs whose broker message may be lost: what the sweeper (worker/sweeper.py) sends again.

A job's message can vanish where the broker cannot give it back: popped by a worker whose
connection broke before the reply reached it, held by a host that is gone while the broker's
restore is stuck, or written after the last append-only fsync of a Redis that died. The store
keeps every pending job in one of two indexes (keys.py), so that finding them costs a lookup of
the due ones, not a scan.
"""

from __future__ import annotations

from typing import cast

from redis.commands.core import Script

from shared.store.keys import DueJob, KeyedStore, attempt_lease_seconds
from shared.store.scripts import JOIN_TURNS, NOW_MS

# The sweeper's step: takes the pending jobs whose broker message may be
# lost and stamps them as sent now, in one step, so that two sweepers never take the same job.
# KEYS[1] sweep:queued  [2] sweep:running  [3] the analysis queue (kombu's list)
#     [4] fair:turns  [5] fair:served (shared/store/dispatch.py)
# ARGV[1] the lease in ms  [2] the most index entries to look at  [3] the indexes' TTL in seconds
#     [4] the key prefix
# Two kinds of jobs are due:
# - running past its lease: its attempt ended without a word (host lost, or its end was lost);
#   it goes back to the head of its client's fair queue, for the message sent to take;
# - queued, sent over a lease ago, and no longer in the queue list. Workers pop the list in the
#   order messages were pushed, and the queued index is ordered by when each job was sent, so the
#   list holds the messages of the newest LLEN entries: the ones older than those were taken by
#   a worker, which marks a job running as soon as it starts it. Counting, rather than sending
#   again every job that waited a lease, keeps a long backlog from being sent twice. Messages
#   are tickets (dispatch.py), so a count is all that needs to be right: any job may be named.
#   Such a job is still in its client's fair queue (only starting it takes it out).
# Returns whether the limit was reached (call again), then the job keys taken.
SWEEP = (
    NOW_MS
    + JOIN_TURNS
    + """
local now = now_ms()
local limit = tonumber(ARGV[2])
local looked, taken = 0, {}
local function pending(job_key)
  local status = redis.call('HGET', job_key, 'status')
  return status == 'queued' or status == 'running'
end
for _, job_key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
  looked = looked + 1
  redis.call('ZREM', KEYS[2], job_key)
  if pending(job_key) then
    redis.call('ZADD', KEYS[1], now, job_key)
    table.insert(taken, job_key)
    -- its attempt is gone: the job waits again, first in its client's queue
    local client = redis.call('HGET', job_key, 'client') or ''
    local queue = ARGV[4] .. 'fair:queue:' .. client
    redis.call('LPUSH', queue, job_key)
    redis.call('EXPIRE', queue, ARGV[3])
    join_turns(KEYS[4], KEYS[5], client, ARGV[3])
  end
end
-- the jobs just taken are not in the list yet either
local out = redis.call('ZCARD', KEYS[1]) - redis.call('LLEN', KEYS[3]) - #taken
local count = math.min(out, limit - looked)
if count > 0 then
  local sent_before = now - tonumber(ARGV[1])
  for _, job_key in ipairs(
      redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', sent_before, 'LIMIT', 0, count)) do
    looked = looked + 1
    if pending(job_key) then
      redis.call('ZADD', KEYS[1], now, job_key)
      table.insert(taken, job_key)
    else
      redis.call('ZREM', KEYS[1], job_key)
    end
  end
end
if #taken > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return {looked >= limit and 1 or 0, taken}
"""
)

# Moves messages the sweeper just sent (ARGV: their task ids) from the tail of the queue (KEYS[1],
# where every message is pushed) to its head, where workers pop: a job sent again was ahead of
# everything queued since, and should not wait behind it. Only the newest entries are looked at.
# Sweeps.to_front (shared/store/sweep.py). KEYS[1] the queue  ARGV[1..n] the task ids
TO_FRONT = """
local looked = redis.call('LRANGE', KEYS[1], 0, #ARGV + 99)
local moved = 0
for _, task_id in ipairs(ARGV) do
  for _, message in ipairs(looked) do
    if string.find(message, task_id, 1, true) then
      redis.call('LREM', KEYS[1], 1, message)
      redis.call('RPUSH', KEYS[1], message)
      moved = moved + 1
      break
    end
  end
end
return moved
"""


class Sweeps(KeyedStore):
    """The sweeping part of the Store."""

    _sweep: Script
    _to_front: Script

    def take_due(self, queue: str, limit: int) -> tuple[list[DueJob], bool]:
        """Jobs whose message may be lost (see SWEEP), each stamped as sent now so that
        no other sweeper takes it too, and whether there may be more (call again). `queue` is
        the broker's list of analysis messages."""
        more, taken = cast(
            list,
            self._sweep(
                keys=[
                    self.key("sweep", "queued"),
                    self.key("sweep", "running"),
                    queue,
                    self.key("fair", "turns"),
                    self.key("fair", "served"),
                ],
                args=[
                    int(attempt_lease_seconds(self.settings) * 1000),
                    limit,
                    self.settings.upload_ttl,
                    self.settings.key_prefix,
                ],
            ),
        )
        return [self.job_ref(key.decode()) for key in taken], bool(more)

    def give_back(self, jobs: list[DueJob]) -> None:
        """Jobs take_due gave but whose message could not be sent: due again at the next sweep,
        not a lease later. Each is marked as never sent (the oldest, so the count of SWEEP's
        second kind takes it first); one started meanwhile has left the index and stays out."""
        if jobs:
            keys = {self.analysis_key("job", job.id, job.tenant): 0 for job in jobs}
            self.redis.zadd(self.key("sweep", "queued"), keys, xx=True)

    def to_front(self, queue: str, task_ids: list[str]) -> int:
        """Move the messages of these tasks, just sent, to the head of `queue` (the last one
        given ends up first); how many were found (see TO_FRONT)."""
        if not task_ids:
            return 0
        return cast(int, self._to_front(keys=[queue], args=task_ids))
