#!/usr/bin/env bash
# Installs the newest dist/wacloud-*-manylinux*.whl into a minimal Debian 12 made with
# debootstrap (python3, python3-venv and ca-certificates only: no -dev package and none of
# the libraries the core links) and runs scripts/wheel_smoke.py there. Not part of CI: it
# needs root and fetches about 100 MB of Debian packages. The Python packages the wheel
# depends on are downloaded here first and installed in the chroot without network.
# Usage (root): scripts/chroot_check.sh [CHROOT_DIR]; the chroot is kept and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "chroot_check: run as root (debootstrap, chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
target=${1:-/tmp/wacloud-chroot}
https_url=${WACLOUD_CHECK_HTTPS_URL-https://pypi.org}
wheel=$(ls -t dist/wacloud-*-manylinux*.whl 2>/dev/null | head -n1 || true)
[ -n "$wheel" ] || { echo "chroot_check: no dist/wacloud-*-manylinux*.whl: run make wheel" >&2; exit 1; }

if [ ! -x "$target/usr/bin/python3" ]; then
  echo "chroot_check: debootstrap bookworm into $target"
  mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
             2>/dev/null | head -n1 | tr -d ' ' || true)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$target" \
    "${mirror:-http://deb.debian.org/debian}" >"$target.log" 2>&1 || {
    tail -20 "$target.log" >&2; exit 1; }
fi

echo "chroot_check: not in the chroot (python3 itself brings libssl, libcrypto and libsqlite3;"
echo "the core links its own copies, checked with ldd below):"
for library in libcurl.so.4 libphonenumber.so.8 libicuuc.so.72 libprotobuf-lite.so.32 \
               libabsl_hash.so.20220623 libboost_json.so.1.81.0; do
  if find "$target/usr/lib" "$target/lib" -name "$library*" 2>/dev/null | grep -q .; then
    echo "chroot_check: $library is in the chroot" >&2; exit 1; fi
  echo "  $library"
done
dpkg-query --admindir="$target/var/lib/dpkg" -W -f='${Package}\n' | grep -E -- '-dev$' && {
  echo "chroot_check: the chroot has -dev packages" >&2; exit 1; }

work="$target/opt/wacloud-check"
rm -rf "$work" && mkdir -p "$work/wheelhouse"
cp "$wheel" scripts/wheel_smoke.py "$work/"
python3 -m pip download -q --only-binary=:all: --python-version 3.11 -d "$work/wheelhouse" \
  "$work/$(basename "$wheel")[django]"
cp /etc/resolv.conf "$target/etc/resolv.conf"
# The machine's own local CAs (a TLS-intercepting proxy's, say) go in as an admin would add
# them, so that the HTTPS check sees what this machine's network presents.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$target/usr/local/share/ca-certificates/"
  chroot "$target" update-ca-certificates >/dev/null 2>&1
fi
mount -t proc proc "$target/proc"
trap 'umount "$target/proc"' EXIT
chroot "$target" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -ec "
  cd /opt/wacloud-check
  python3 --version
  python3 -m venv venv
  venv/bin/python -m pip install -q --no-index --find-links wheelhouse ./$(basename "$wheel")
  if ldd venv/lib/python3*/site-packages/wacloud/_core*.so | grep -E 'libssl|libcrypto|libsqlite|libcurl|libicu|libphonenumber'; then
    echo 'chroot_check: the core loads a system library it should carry' >&2; exit 1
  fi
  venv/bin/python -I wheel_smoke.py ${https_url:+--https $https_url}
  venv/bin/python -m pip install -q --no-index --find-links wheelhouse './$(basename "$wheel")[django]'
  venv/bin/python -I wheel_smoke.py --django
"
echo "chroot_check: passed in $target"
