#!/usr/bin/env bash
# Installs the Debian packages the tests use, only those that are missing.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-sentinel >/dev/null || need+=(redis-sentinel)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v promtool >/dev/null || need+=(prometheus)  # promtool checks deploy/prometheus/
command -v npm >/dev/null || need+=(npm)  # the face-api models (npm pack), axe-core and TF.js for tests
# A real S3-compatible server for the s3:// blob store tests (harness/swift_s3.py): OpenStack Swift
# with its s3api middleware, and memcached for its tempauth tokens.
for part in proxy object container account; do
  [ -x "/usr/bin/swift-$part-server" ] || need+=("swift-$part")
done
[ -x /usr/bin/swift-ring-builder ] || need+=(swift)
command -v memcached >/dev/null || need+=(memcached)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
# Other installs may hold dpkg's lock for a while: wait for it rather than fail.
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
  --no-install-recommends "${need[@]}"
