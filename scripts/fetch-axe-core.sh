#!/usr/bin/env bash
# Installs axe-core, the accessibility engine the browser tests inject into the page, from the
# npm registry: one pinned version, its tarball checked against the pinned integrity, only
# axe.min.js (and its licence) kept under var/axe-core/VERSION/. Does nothing when it is there.
# Prints the path of axe.min.js.
set -euo pipefail
VERSION=4.14.1
INTEGRITY=sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/var/axe-core/$VERSION"
if [ -s "$dest/axe.min.js" ]; then
  echo "$dest/axe.min.js"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-axe-core: needs npm (Debian package npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "axe-core@$VERSION" >/dev/null)
tarball="$work/axe-core-$VERSION.tgz"
actual="sha512-$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "fetch-axe-core: axe-core@$VERSION has integrity $actual, expected $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" package/axe.min.js package/LICENSE
# Renamed into place whole, so a run cut short never leaves a half-written file that looks done.
mkdir -p "$root/var/axe-core"
mv "$work/package" "$work/$VERSION"
rm -rf "$dest"
mv "$work/$VERSION" "$dest"
echo "$dest/axe.min.js"
