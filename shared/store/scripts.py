"""The Lua scripts that make each step on a job atomic (see keys.py for the key table); the
sweeper's are in sweep.py, fair dispatch's in dispatch.py. Each script's comment lists its KEYS
and ARGV in order and names its caller (in job_steps.py unless said otherwise); keys are full
names, with the prefix and a tenant's scope."""

from __future__ import annotations

# Milliseconds on Redis's clock: the one clock every host agrees on, for leases and deadlines.
NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# Gives a client a turn (shared/store/dispatch.py) unless it has one: a client with nothing
# waiting joins just ahead of the client served last, so its first job is the next one started
# (clients that joined since that turn tie, and go in the order of their names).
# `turns` is the sorted set of clients with jobs waiting, `served` the count of turns taken.
JOIN_TURNS = """
local function join_turns(turns, served, client, ttl)
  local last = tonumber(redis.call('GET', served) or '0')
  redis.call('ZADD', turns, 'NX', last - 0.5, client)
  redis.call('EXPIRE', turns, ttl)
  redis.call('EXPIRE', served, ttl)
end
"""

# Takes a job out of the sweeper's indexes (shared/store/sweep.py) once it is no longer pending.
UNINDEX = """
local function unindex(job_key, prefix)
  redis.call('ZREM', prefix .. 'sweep:queued', job_key)
  redis.call('ZREM', prefix .. 'sweep:running', job_key)
end
"""

# Decides, in one step, what an upload of these bytes means: a stored result of the current pack
# (hit), a job already in flight (join it), a stored permanent failure (failed), or a new job.
# Check-then-set from Python would let two concurrent uploads of the same bytes both enqueue.
# A new job needs its upload in the blob store first, so the API asks twice: without an upload
# token (ARGV[11] empty) a new job is answered 'needs_upload' and nothing is written; with the
# token of the blob it has written since, the job is claimed (job hash, quota, sweeper index) and
# names its upload. Returns the outcome, the job as it is now and, for a hit, the result, so that
# the answer to the upload needs no further round trip; for a claim over an ended job, the token
# of that job's annotated image, which the new job replaces.
# A new job enters the sweeper's queued index (KEYS[7]), and its client's fair queue (KEYS[10])
# and turn (shared/store/dispatch.py). What it counts against the client's quota is its work
# (ARGV[12], shared/work_quota.py), not only its bytes. JobSteps.claim.
# KEYS[1] job:{id}  [2] result:{id}  [3] stats:enqueued  [4] stats:dedup_hits
#     [5] pending:{client} (sorted set of "{id}:{cost}" by expiry)  [6] pending_bytes:{client}
#     [7] sweep:queued  [8] fair:turns  [9] fair:served  [10] fair:queue:{client}
#     [11] stats:executions
# ARGV[1] the pack's fingerprint  [2] now (ISO 8601, created_at)  [3] the callback as JSON, or ''
#     [4] the upload TTL in seconds  [5] the upload's size in bytes  [6] most callbacks per job
#     [7] the client ('' counts no quota)  [8] now in Unix seconds (the quota's expiry clock)
#     [9] most queued work per client  [10] the analysis id  [11] the upload's blob token, or ''
#     [12] the job's cost (its work, counted in bytes)
CLAIM = (
    NOW_MS
    + JOIN_TURNS
    + """
local status = redis.call('HGET', KEYS[1], 'status')
local fingerprint = redis.call('HGET', KEYS[1], 'fingerprint')
if status == 'queued' or status == 'running' then
  if ARGV[3] ~= '' then
    local callbacks = cjson.decode(redis.call('HGET', KEYS[1], 'callbacks') or '[]')
    if #callbacks >= tonumber(ARGV[6]) then return {'callbacks_full', {}} end
    table.insert(callbacks, cjson.decode(ARGV[3]))
    redis.call('HSET', KEYS[1], 'callbacks', cjson.encode(callbacks))
  end
  return {'joined', redis.call('HGETALL', KEYS[1])}
end
if fingerprint == ARGV[1] and (status == 'succeeded' or
    (status == 'failed' and redis.call('HGET', KEYS[1], 'error_code') == 'invalid_image')) then
  local result = redis.call('GET', KEYS[2])
  if result or status == 'failed' then
    redis.call('INCR', KEYS[4])
    return {'stored', redis.call('HGETALL', KEYS[1]), result}
  end
end
local size = tonumber(ARGV[5])
local cost = tonumber(ARGV[12])
if ARGV[7] ~= '' then
  local now = tonumber(ARGV[8])
  -- Uploads that expired unprocessed leave the client's total here, not in a finish step.
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  for _, member in ipairs(expired) do
    redis.call('DECRBY', KEYS[6], tonumber(string.match(member, ':(%d+)$')))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  local queued = tonumber(redis.call('GET', KEYS[6]) or '0')
  if queued + cost > tonumber(ARGV[9]) then return {'over_quota', {}} end
  if ARGV[11] ~= '' then
    redis.call('ZADD', KEYS[5], now + tonumber(ARGV[4]), ARGV[10] .. ':' .. cost)
    redis.call('INCRBY', KEYS[6], cost)
    redis.call('EXPIRE', KEYS[5], ARGV[4])
    redis.call('EXPIRE', KEYS[6], ARGV[4])
  end
end
if ARGV[11] == '' then return {'needs_upload', {}} end
local replaced = redis.call('HGET', KEYS[1], 'annotated') or ''
local callbacks = '[]'
if ARGV[3] ~= '' then callbacks = '[' .. ARGV[3] .. ']' end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'status', 'queued', 'created_at', ARGV[2], 'fingerprint', ARGV[1],
           'attempts', '0', 'callbacks', callbacks, 'client', ARGV[7], 'size', size,
           'cost', cost, 'upload', ARGV[11],
           'executions_at_claim', redis.call('GET', KEYS[11]) or '0')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[7], now_ms(), KEYS[1])
redis.call('EXPIRE', KEYS[7], ARGV[4])
redis.call('RPUSH', KEYS[10], KEYS[1])
redis.call('EXPIRE', KEYS[10], ARGV[4])
join_turns(KEYS[8], KEYS[9], ARGV[7], ARGV[4])
redis.call('INCR', KEYS[3])
return {'claimed', redis.call('HGETALL', KEYS[1]), replaced}
"""
)

# Takes a pending job's work off its client's queued total (when it ends, is released or is
# deleted). The client's keys are named from the job hash, so the prefix comes as an argument
# (a Lua function, included in the scripts that call it: RELEASE, FINISH, DELETE).
UNCOUNT_PENDING = """
local function uncount_pending(job_key, id, prefix)
  local client = redis.call('HGET', job_key, 'client')
  if not client or client == '' then return end
  -- jobs claimed before quotas counted work have no cost: their size was counted
  local cost = redis.call('HGET', job_key, 'cost') or redis.call('HGET', job_key, 'size')
  if redis.call('ZREM', prefix .. 'pending:' .. client, id .. ':' .. cost) == 1 then
    redis.call('DECRBY', prefix .. 'pending_bytes:' .. client, cost)
  end
end
"""

# Rolls a claim back when the task could not be sent, so a failed enqueue leaves nothing behind.
# JobSteps.release. KEYS[1] job:{id}  [2] stats:enqueued
# ARGV[1] the claim's created_at  [2] the analysis id  [3] the key prefix
RELEASE = (
    UNCOUNT_PENDING
    + UNINDEX
    + """
if redis.call('HGET', KEYS[1], 'status') == 'queued' and
   redis.call('HGET', KEYS[1], 'created_at') == ARGV[1] then
  uncount_pending(KEYS[1], ARGV[2], ARGV[3])
  unindex(KEYS[1], ARGV[3])
  redis.call('DEL', KEYS[1])
  redis.call('DECR', KEYS[2])
  return 1
end
return 0
"""
)

# Starts an attempt only while the job is still pending, so a task redelivered after the job
# ended, or one whose job was deleted meanwhile, does not bring the job back. A running job's
# attempt holds it for its lease: another message for it (a restored or re-sent one) starts
# nothing until the lease has passed, so a healthy attempt is never run twice. The same message
# again (`attempt`, the task id: a retry, or a redelivery after its pool process died) may start.
# The job moves from the sweeper's queued index to its running index. Returns the started job's
# hash (false if none started): the worker logs and measures it without another round trip.
# START runs it on one job (JobSteps.mark_running); DISPATCH (shared/store/dispatch.py) on the
# job whose turn it is.
# START's KEYS[1] job:{id}  [2] stats:executions  [3] sweep:queued  [4] sweep:running
# ARGV[1] now (ISO 8601, started_at)  [2] the attempt (the task id)  [3] the lease in ms
#     [4] the sweeper indexes' TTL in seconds
START_JOB = """
local function start(job_key, now, started_at, attempt, lease_ms, ttl, executions, queued, running)
  local status = redis.call('HGET', job_key, 'status')
  if status ~= 'queued' and status ~= 'running' then return false end
  if status == 'running' and redis.call('HGET', job_key, 'attempt') ~= attempt and
     tonumber(redis.call('HGET', job_key, 'lease_until') or '0') > now then
    return false
  end
  local lease_until = now + tonumber(lease_ms)
  redis.call('HSET', job_key, 'status', 'running', 'started_at', started_at, 'attempt', attempt,
             'lease_until', lease_until)
  redis.call('HINCRBY', job_key, 'attempts', 1)
  redis.call('HSET', job_key, 'execution', redis.call('INCR', executions))
  redis.call('ZREM', queued, job_key)
  redis.call('ZADD', running, lease_until, job_key)
  redis.call('EXPIRE', running, ttl)
  return redis.call('HGETALL', job_key)
end
"""
START = (
    NOW_MS
    + START_JOB
    + """
return start(KEYS[1], now_ms(), ARGV[1], ARGV[2], ARGV[3], ARGV[4], KEYS[2], KEYS[3], KEYS[4]) or 0
"""
)

# Counts a hard-limit strike on a running job, only while the attempt struck still holds it
# (worker/failures.py says why the first strike does not end the job), and ends that attempt's
# lease now: its process was killed, and a lease it had renewed (its message redelivered) would
# otherwise keep the job from the sweeper for up to a lease more. Returns the job's strikes so
# far, 0 when the attempt no longer holds the job (it ended, was deleted, or another runs it).
# JobSteps.strike_hard_limit. KEYS[1] job:{id}  [2] sweep:running  ARGV[1] the attempt (task id)
STRIKE_HARD_LIMIT = (
    NOW_MS
    + """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' or
   redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
local now = now_ms()
redis.call('HSET', KEYS[1], 'lease_until', now)
redis.call('ZADD', KEYS[2], 'XX', now, KEYS[1])
return redis.call('HINCRBY', KEYS[1], 'hard_limits', 1)
"""
)

# Ends a pending job in one step: outcome, TTLs, counter, long-pollers woken; a succeeded job
# keeps its result and names its annotated image (ARGV[8], the blob's token). A job deleted (or
# already ended) meanwhile stays as it is: DELETE must not be undone by a worker that finishes
# afterwards. Returns 0 then; else the token and size of the job's upload, whose blob the
# worker deletes next (the job stops naming it here, so the blob sweeper takes it if that fails),
# and the job's callbacks at its end (the worker need not read them back).
# JobSteps.succeed and .fail. KEYS[1] job:{id}  [2] result:{id}  [3] stats:{succeeded|failed}
# ARGV[1] the status  [2] now (ISO 8601, finished_at)  [3] the error code, or ''
#     [4] the error message, or ''  [5] the result TTL in seconds  [6] the done:{id} channel
#     [7] the result JSON, or ''  [8] the annotated image's token, or ''  [9] the id  [10] prefix
FINISH = (
    UNCOUNT_PENDING
    + UNINDEX
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then return 0 end
uncount_pending(KEYS[1], ARGV[9], ARGV[10])
unindex(KEYS[1], ARGV[10])
local upload = redis.call('HGET', KEYS[1], 'upload') or ''
redis.call('HDEL', KEYS[1], 'upload')
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finished_at', ARGV[2],
           'error_code', ARGV[3], 'error_message', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
if ARGV[1] == 'succeeded' then
  redis.call('SET', KEYS[2], ARGV[7], 'EX', ARGV[5])
  redis.call('HSET', KEYS[1], 'annotated', ARGV[8])
end
redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[6], ARGV[1])
local size, callbacks = unpack(redis.call('HMGET', KEYS[1], 'size', 'callbacks'))
return {upload, size or '0', callbacks or '[]'}
"""
)

# Removes every trace of an analysis from Redis, and its upload from its client's queued total.
# Returns how many keys went and, read in the same step, the tokens of the blobs the job named
# (upload, annotated image) and the upload's size, for the caller to delete them next.
# JobSteps.delete. KEYS: the analysis's keys (keys.ANALYSIS_KEY_KINDS), job:{id} first
# ARGV[1] the analysis id  [2] the key prefix
DELETE = (
    UNCOUNT_PENDING
    + UNINDEX
    + """
local upload = redis.call('HGET', KEYS[1], 'upload') or ''
local annotated = redis.call('HGET', KEYS[1], 'annotated') or ''
local size = redis.call('HGET', KEYS[1], 'size') or '0'
uncount_pending(KEYS[1], ARGV[1], ARGV[2])
unindex(KEYS[1], ARGV[2])
return {redis.call('DEL', unpack(KEYS)), upload, annotated, size}
"""
)

# One request in a client's current one-minute window; the window's key outlives it a little.
# Counters (shared/store/counters.py). KEYS[1] rate:{client}:{window}  ARGV[1] the key's TTL
COUNT_REQUEST = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""

# Marks a new job's message as sent, only while the job exists (a DELETE meanwhile is not undone):
# the write that a WAIT behind it on the same connection makes the replicas acknowledge.
# Replication (shared/store/replication.py). KEYS[1] job:{id}  ARGV[1] now (ISO 8601)
MARK_ENQUEUED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'enqueued_at', ARGV[1])
return 1
"""
