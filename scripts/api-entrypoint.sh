#!/usr/bin/env bash
# Start the API under gunicorn: the API image's CMD, and what `readface up` and the tests run.
# One process with threads: requests wait on Redis (long-polls), not on the CPU. The worker class
# is gunicorn's gthread that reads each request whole in its event loop before a thread sees it
# (headers within READFACE_API_HEADER_TIMEOUT, body within READFACE_API_BODY_TIMEOUT, else 408),
# so slow and idle clients hold no thread; gunicorn's own errors carry the contract's JSON body.
# The request line may be 8190 bytes (gunicorn's most), so a 2048-character callback_url fits
# in the query with every ASCII character percent-encoded (MAX_REQUEST_LINE_BYTES, api/openapi.py).
set -euo pipefail
exec "${PYTHON:-python}" -m gunicorn --bind "${READFACE_BIND:-0.0.0.0:8000}" \
  --workers 1 --threads "${READFACE_API_THREADS:-32}" \
  --worker-class api.gunicorn_worker.BufferingThreadWorker \
  --limit-request-line 8190 --timeout 60 --graceful-timeout 10 'api:create_app()'
