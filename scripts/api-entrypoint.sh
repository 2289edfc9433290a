#!/usr/bin/env bash
# Start the API under gunicorn: the API image's CMD, and what `readface up` and the tests run.
# One process with threads: requests wait on Redis (long-polls), not on the CPU. The worker class
# is gunicorn's gthread with the contract's JSON body on the errors gunicorn answers itself.
# The request line may be 8190 bytes (gunicorn's most), so a 2048-character callback_url fits
# in the query with every ASCII character percent-encoded (MAX_REQUEST_LINE_BYTES, api/openapi.py).
set -euo pipefail
exec "${PYTHON:-python}" -m gunicorn --bind "${READFACE_BIND:-0.0.0.0:8000}" \
  --workers 1 --threads "${READFACE_API_THREADS:-32}" \
  --worker-class api.gunicorn_worker.JsonErrorThreadWorker \
  --limit-request-line 8190 --timeout 60 --graceful-timeout 10 'api:create_app()'
