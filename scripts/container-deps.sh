#!/usr/bin/env bash
# What `make container-test` needs on the host: Debian's Docker engine, debootstrap (base images
# are built locally: no container registry is reachable) and docker-compose v1. Installs only
# what is missing, then starts dockerd if no engine answers and records its pid, so that
# scripts/container-stop-engine.sh stops only an engine this script started.
set -euo pipefail
pidfile=${READFACE_DOCKERD_PIDFILE:-/run/readface-dockerd.pid}
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-compose >/dev/null || need+=(docker-compose)
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
fi
docker info >/dev/null 2>&1 && exit 0
echo "starting dockerd"
"${sudo_cmd[@]}" setsid dockerd >/var/log/readface-dockerd.log 2>&1 &
echo $! | "${sudo_cmd[@]}" tee "$pidfile" >/dev/null
deadline=$((SECONDS + 60))
until docker info >/dev/null 2>&1; do
  if [ $SECONDS -ge $deadline ]; then
    echo "dockerd did not answer within 60 s; see /var/log/readface-dockerd.log" >&2
    exit 1
  fi
  sleep 0.2
done
