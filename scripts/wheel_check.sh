#!/usr/bin/env bash
# Installs the newest dist/wacloud-*-manylinux*.whl into a fresh venv under /tmp and runs
# scripts/wheel_smoke.py there, from outside the checkout and in isolated mode, so nothing of
# the source tree, the build trees or .deps/ can be imported or loaded: first the bare wheel
# (no Django may come with it), then with the [django] extra. WACLOUD_CHECK_HTTPS_URL
# (default https://pypi.org; empty to skip) is fetched over HTTPS with the wheel's own
# libcurl and OpenSSL. PYTHON picks the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
https_url=${WACLOUD_CHECK_HTTPS_URL-https://pypi.org}
wheel=$(ls -t dist/wacloud-*-manylinux*.whl 2>/dev/null | head -n1 || true)
[ -n "$wheel" ] || { echo "wheel_check: no dist/wacloud-*-manylinux*.whl: run make wheel" >&2; exit 1; }

scratch=$(mktemp -d /tmp/wacloud-wheel-check.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp "$wheel" scripts/wheel_smoke.py "$scratch/"
cd "$scratch"
wheel=./$(basename "$wheel")
echo "wheel_check: $(basename "$wheel") ($(du -h "$wheel" | cut -f1)) into a fresh venv in $scratch"
"$python" -m venv venv
venv/bin/python -m pip install -q --upgrade pip
venv/bin/python -m pip install -q "$wheel"
# No CA variables: the core must find this machine's CA bundle where the distribution keeps it.
run() {
  env -u PYTHONPATH -u LD_LIBRARY_PATH -u CURL_CA_BUNDLE -u SSL_CERT_FILE -u SSL_CERT_DIR \
    venv/bin/python -I wheel_smoke.py "$@"
}

core=$(venv/bin/python -I -c 'import wacloud._core as c; print(c.__file__)')
if readelf -d "$core" | grep -E 'R(UN)?PATH' | grep -qF "$root"; then
  echo "wheel_check: $core loads libraries from the checkout" >&2; exit 1
fi
if venv/bin/python -I -c 'import django' 2>/dev/null; then
  echo "wheel_check: installing the bare wheel brought Django in" >&2; exit 1
fi
run ${https_url:+--https "$https_url"}

venv/bin/python -m pip install -q "$wheel[django]"
run --django
echo "wheel_check: passed"
