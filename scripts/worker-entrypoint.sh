#!/usr/bin/env bash
# Start a Celery worker: the worker image's CMD, and what `readface up` and the tests run.
# It verifies the model pack first and exits non-zero, naming each bad file, if it is not intact.
set -euo pipefail
# One OpenCV/BLAS thread per process: throughput comes from one process per core.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# No worker heartbeats (nothing reads them): their publish blocks the event loop, retrying, for as
# long as Redis is unreachable, and the watchdog (worker/watchdog.py) would take that for a hang.
exec "${PYTHON:-python}" -m celery -A worker.tasks worker \
  --queues "${READFACE_WORKER_QUEUES:-analyze,callbacks}" \
  --pool "${READFACE_WORKER_POOL:-prefork}" \
  --concurrency "${READFACE_WORKER_CONCURRENCY:-$(nproc)}" \
  --hostname "${READFACE_WORKER_NAME:-readface}@%h" \
  --loglevel "${READFACE_LOG_LEVEL:-INFO}" --without-gossip --without-mingle --without-heartbeat
