#!/usr/bin/env bash
# Start the API under gunicorn: the API image's CMD, and what `readface up` and the tests run.
# One process with threads: requests wait on Redis (long-polls), not on the CPU.
set -euo pipefail
exec "${PYTHON:-python}" -m gunicorn --bind "${READFACE_BIND:-0.0.0.0:8000}" \
  --workers 1 --threads "${READFACE_API_THREADS:-32}" --worker-class gthread \
  --timeout 60 --graceful-timeout 10 'api:create_app()'
