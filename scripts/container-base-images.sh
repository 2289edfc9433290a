#!/usr/bin/env bash
# Local stand-ins for the production base images (python:3.11-slim-bookworm, redis:7.2-bookworm,
# nginx:1.27-bookworm),
# for machines that reach Debian's mirror and PyPI but no container registry: a minbase bookworm
# from debootstrap, imported, trusting the host's extra CA certificates (pip in a build reaches
# the index only through them), then Python and Redis from Debian on top. Each image is labelled
# with a hash of this script and of those certificates and rebuilt only when that changes.
# usage: scripts/container-base-images.sh   (prints nothing but progress; tags below)
set -euo pipefail
DEBIAN_TAG=readface-local/debian:bookworm
PYTHON_TAG=readface-local/python:3.11-bookworm
REDIS_TAG=readface-local/redis:7-bookworm
NGINX_TAG=readface-local/nginx:bookworm
export DOCKER_BUILDKIT=0  # the classic builder: nothing to pull, works on every engine

# The mirror apt uses here (deb822 sources first, then one-line sources), unless given.
mirror=${READFACE_DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security
extra_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_cas[0]}" ] || extra_cas=()

stamp=$( { cat "$0"; echo "$mirror"; cat "${extra_cas[@]}" /dev/null; } | sha256sum | cut -c1-16)
current() { [ "$(docker image inspect -f '{{index .Config.Labels "readface.base"}}' "$1" 2>/dev/null)" = "$stamp" ]; }

if ! current "$DEBIAN_TAG"; then
  echo "base: debootstrap bookworm from $mirror"
  root=$(mktemp -d /var/tmp/readface-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >/dev/null
  cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
  if [ ${#extra_cas[@]} -gt 0 ]; then
    cp "${extra_cas[@]}" "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import \
    -c "LABEL readface.base=$stamp" \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'CMD ["bash"]' - "$DEBIAN_TAG" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

# Debian's python3 is 3.11 too (python3-venv brings pip into each venv); python-is-python3
# gives the `python` the Dockerfiles call.
if ! current "$PYTHON_TAG"; then
  echo "base: $PYTHON_TAG"
  docker build -q -t "$PYTHON_TAG" - >/dev/null <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       python3 python3-venv python-is-python3 \
    && rm -rf /var/lib/apt/lists/*
LABEL readface.base=$stamp
DOCKERFILE
fi

# Like the official image, reachable from the other containers without a config file: Debian's
# redis-server alone is in protected mode and resets every connection not from loopback.
if ! current "$REDIS_TAG"; then
  echo "base: $REDIS_TAG"
  docker build -q -t "$REDIS_TAG" - >/dev/null <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data \
    && printf '#!/bin/sh\nexec /usr/bin/redis-server "\$@" --protected-mode no\n' \
       >/usr/local/bin/redis-server && chmod 0755 /usr/local/bin/redis-server
WORKDIR /data
LABEL readface.base=$stamp
CMD ["redis-server"]
DOCKERFILE
fi

# Like the official image: conf.d/*.conf included, logs on the container's output, in the
# foreground (Debian's default site, on port 80, is removed).
if ! current "$NGINX_TAG"; then
  echo "base: $NGINX_TAG"
  docker build -q -t "$NGINX_TAG" - >/dev/null <<DOCKERFILE
FROM $DEBIAN_TAG
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
LABEL readface.base=$stamp
CMD ["nginx", "-g", "daemon off;"]
DOCKERFILE
fi

# Images these replaced (an older stamp) are left untagged: remove them, not the build cache.
docker image prune -f --filter label=readface.base >/dev/null
