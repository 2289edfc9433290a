#!/usr/bin/env bash
# Build both project images from the real Dockerfiles on the local base image, with the classic
# builder (the images the container tests run) and with BuildKit where this engine has it.
# Prints one line per build: builder, image, seconds, size in MB.
# usage: scripts/container-build.sh PYTHON_IMAGE API_TAG WORKER_TAG
set -euo pipefail
python_image=${1:?usage: container-build.sh PYTHON_IMAGE API_TAG WORKER_TAG}
api_tag=${2:?}
worker_tag=${3:?}

# Debian's docker CLI (20.10) has BuildKit built in; newer CLIs need the buildx plugin.
buildkit=()
if docker buildx version >/dev/null 2>&1; then
  buildkit=(docker buildx build --load)
elif [ -x /usr/bin/docker ] && /usr/bin/docker version -f '{{.Client.Version}}' 2>/dev/null | grep -q '^20\.'; then
  buildkit=(env DOCKER_BUILDKIT=1 /usr/bin/docker build)
fi

build() {  # builder-name dockerfile tag command...
  local name=$1 dockerfile=$2 tag=$3 start=$SECONDS
  shift 3
  "$@" -q -f "$dockerfile" --build-arg "PYTHON_IMAGE=$python_image" -t "$tag" . >/dev/null
  local mb=$(($(docker image inspect -f '{{.Size}}' "$tag") / 1000000))
  echo "build: $name $dockerfile $((SECONDS - start)) s, $mb MB"
}

build classic Dockerfile.api "$api_tag" env DOCKER_BUILDKIT=0 docker build
build classic Dockerfile.worker "$worker_tag" env DOCKER_BUILDKIT=0 docker build
if [ ${#buildkit[@]} -gt 0 ]; then
  build buildkit Dockerfile.api "$api_tag-buildkit" "${buildkit[@]}"
  build buildkit Dockerfile.worker "$worker_tag-buildkit" "${buildkit[@]}"
  docker image rm "$api_tag-buildkit" "$worker_tag-buildkit" >/dev/null
else
  echo "build: no BuildKit on this engine; classic builder only"
fi
