#!/usr/bin/env bash
# Start the API under gunicorn: the API image's CMD, and what `readface up` and the tests run.
# One process on gevent's worker: each connection a greenlet, so long-polls and slow clients hold
# no thread. The settings and their reasons are in api/gunicorn_config.py (read by path, so that
# nothing of the app is imported before gevent patches the standard library).
set -euo pipefail
# Allocations from 1 MiB up (an upload's bytes) are mapped and unmapped on their own, so their
# memory goes back to the system when the upload is answered; glibc would otherwise raise this
# threshold to the largest block freed so far and keep up to twice that in its heap.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1048576}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "${PYTHON:-python}" -m gunicorn --config "$here/../api/gunicorn_config.py" 'api:create_app()'
