"""The Lua scripts that make each step on a job atomic (see keys.py for the key table)."""

from __future__ import annotations

# Decides, in one step, what an upload of these bytes means: a stored result of the current pack
# (hit), a job already in flight (join it), a stored permanent failure (failed), or a new job
# (claim: write the job and the upload together). Check-then-set from Python would let two
# concurrent uploads of the same bytes both enqueue. Returns the outcome, the job as it is now
# and, for a hit, the result, so that the answer to the upload needs no further round trip.
CLAIM = """
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
UNCOUNT_PENDING = """
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
RELEASE = (
    UNCOUNT_PENDING
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
START = """
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
FINISH = (
    UNCOUNT_PENDING
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
DELETE = (
    UNCOUNT_PENDING
    + """
uncount_pending(KEYS[1], ARGV[1], ARGV[2])
return redis.call('DEL', unpack(KEYS))
"""
)

# One request in a client's current one-minute window; the window's key outlives it a little.
COUNT_REQUEST = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
