#!/usr/bin/env bash
# `make container-test`: the images built from the real Dockerfiles on local base images, run with
# compose and checked from inside (tests/containers), host loss included. Leaves no container,
# network or volume behind, and stops dockerd again if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
phase_started=$SECONDS
phase() {  # how long the step that just ended took
  echo "container-test: $1 $((SECONDS - phase_started)) s"
  phase_started=$SECONDS
}
pidfile=/run/readface-dockerd.pid
rm -f "$pidfile"
READFACE_DOCKERD_PIDFILE=$pidfile bash scripts/container-deps.sh
phase "packages and engine"
stop_engine() {
  docker-compose -p readface-ct -f docker-compose.yml down --volumes --remove-orphans >/dev/null 2>&1 || true
  if [ -s "$pidfile" ]; then
    kill "$(cat "$pidfile")" && rm -f "$pidfile"
  fi
}
trap stop_engine EXIT
bash scripts/container-base-images.sh
phase "base images"
bash scripts/container-build.sh readface-local/python:3.11-bookworm \
  readface-api:container-test readface-worker:container-test
phase "image builds"
READFACE_CONTAINER_TEST=1 .venv/bin/pytest -q -p no:cacheprovider -s \
  tests/containers/test_images.py tests/containers/test_stack.py tests/containers/test_proxy.py \
  tests/containers/test_host_loss.py
phase "tests"
left=$(docker ps -aq --filter label=com.docker.compose.project=readface-ct | wc -l)
left_networks=$(docker network ls -q --filter label=com.docker.compose.project=readface-ct | wc -l)
left_volumes=$(docker volume ls -q --filter label=com.docker.compose.project=readface-ct | wc -l)
echo "left behind: $left containers, $left_networks networks, $left_volumes volumes"
[ "$left$left_networks$left_volumes" = 000 ]
echo "container-test: $((SECONDS - started)) s"
