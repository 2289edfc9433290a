#!/usr/bin/env bash
# Healthy when this container's worker answers a Celery ping.
set -euo pipefail
exec "${PYTHON:-python}" -m celery -A worker.tasks inspect ping \
  --destination "${READFACE_WORKER_NAME:-readface}@$(hostname)" --timeout 5
