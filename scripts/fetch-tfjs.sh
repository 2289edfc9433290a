#!/usr/bin/env bash
# Installs what the TF.js parity test runs under Node: TensorFlow.js (@tensorflow/tfjs, its
# self-contained dist/tf.min.js with the pure-JavaScript CPU backend) and face-api's own network
# code (dist/face-api.node-wasm.js of the same @vladmandic/face-api tarball the default model pack
# comes from), each from the npm registry at one pinned version, its tarball checked against the
# pinned integrity (face-api's is models/manifest.json's), under var/tfjs-reference/. Does
# nothing when they are there. Prints the directory.
set -euo pipefail
TFJS_VERSION=4.22.0
TFJS_INTEGRITY=sha512-0TrIrXs6/b7FLhLVNmfh8Sah6JgjBPH4mZ8JGb7NU6WW+cx00qK5BcAZxw7NCzxj6N8MRAIfHq+oNbPUNG5VAg==
FACEAPI=@vladmandic/face-api@1.7.15

root="$(cd "$(dirname "$0")/.." && pwd)"
FACEAPI_INTEGRITY=$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["npm"][sys.argv[2]]["integrity"])' "$root/models/manifest.json" "$FACEAPI")
dest="$root/var/tfjs-reference/tfjs-$TFJS_VERSION-face-api-${FACEAPI##*@}"
if [ -s "$dest/tf.min.js" ] && [ -s "$dest/face-api.node-wasm.js" ]; then
  echo "$dest"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-tfjs: needs npm (Debian package npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # package@version integrity member... : extract the members into $work/out
  local spec=$1 integrity=$2
  shift 2
  mkdir -p "$work/pack" "$work/out"
  (cd "$work/pack" && npm pack --silent "$spec" >/dev/null)
  local tarball=("$work"/pack/*.tgz)
  local actual="sha512-$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "${tarball[0]}")"
  if [ "$actual" != "$integrity" ]; then
    echo "fetch-tfjs: $spec has integrity $actual, expected $integrity" >&2
    exit 1
  fi
  tar -xzf "${tarball[0]}" -C "$work/pack" "$@"
  for member in "$@"; do
    cp "$work/pack/$member" "$work/out/"
  done
  rm -rf "$work/pack"
}

fetch "@tensorflow/tfjs@$TFJS_VERSION" "$TFJS_INTEGRITY" package/dist/tf.min.js
fetch "$FACEAPI" "$FACEAPI_INTEGRITY" package/dist/face-api.node-wasm.js package/LICENSE
# Renamed into place whole, so a run cut short never leaves a half-written directory that looks done.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/out" "$dest"
echo "$dest"
