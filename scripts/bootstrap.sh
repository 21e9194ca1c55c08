#!/usr/bin/env bash
# Installs the system packages the C++ core builds against (Debian and Ubuntu).
# Quiet and quick when everything is already there; as non-root it prints the
# exact apt-get line to run and stops, or, when only libphonenumber's headers are
# missing (Debian 12), unpacks them into .deps/ (apt-get download needs no root).
# --wheel: also what `make wheel` needs (scripts/wheel_deps.sh builds from source).
set -euo pipefail
cd "$(dirname "$0")/.."

phonenumber_headers() {
  [ -f /usr/include/phonenumbers/phonenumberutil.h ] || [ -f .deps/usr/include/phonenumbers/phonenumberutil.h ]
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
python_ready() {
  python3 - <<'PY' 2>/dev/null
import ensurepip, os, sysconfig, venv
raise SystemExit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
}

if ! command -v dpkg-query >/dev/null; then
  echo "bootstrap: not a Debian-like system; install CMake, a C++17 compiler, Boost.JSON, libcurl," \
       "OpenSSL, libphonenumber, SQLite and GoogleTest yourself, then rerun." >&2
  exit 1
fi

boost_json=libboost-json1.81-dev
if ! apt-cache show "$boost_json" >/dev/null 2>&1 && apt-cache show libboost-json-dev >/dev/null 2>&1; then
  boost_json=libboost-json-dev
fi
packages=(cmake g++ make "$boost_json" libcurl4-openssl-dev libssl-dev libsqlite3-dev libgtest-dev
          libprotobuf-dev libabsl-dev)
python_ready || packages+=(python3-venv python3-dev)
[ "${1:-}" = --wheel ] && packages+=(dpkg-dev protobuf-compiler libicu-dev zlib1g-dev)

# Debian 12: libphonenumber-dev wants Boost 1.74, Boost.JSON needs 1.81. The runtime
# library has no Boost dependency, so take it and unpack only the -dev headers.
unpack_headers() {
  local scratch
  scratch=$(mktemp -d)
  (cd "$scratch" && apt-get download -qq libphonenumber-dev 2>/dev/null)
  mkdir -p .deps
  dpkg-deb -x "$scratch"/libphonenumber-dev_*.deb .deps
  rm -rf "$scratch"
  echo "bootstrap: libphonenumber headers unpacked into .deps/"
}

missing=()
for package in "${packages[@]}"; do installed "$package" || missing+=("$package"); done
if [ ${#missing[@]} -eq 0 ] && phonenumber_headers && { installed libphonenumber-dev || installed libphonenumber8; }; then
  exit 0
fi

if [ ${#missing[@]} -eq 0 ] && installed libphonenumber8 && ! phonenumber_headers; then
  unpack_headers
  phonenumber_headers || { echo "bootstrap: libphonenumber headers still missing" >&2; exit 1; }
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: system packages are missing. Run, as root:" >&2
  echo "  apt-get update && apt-get install -y ${packages[*]} libphonenumber-dev" >&2
  echo "(on Debian 12 libphonenumber-dev conflicts with Boost 1.81; install libphonenumber8" >&2
  echo " instead and rerun this script as any user: it unpacks the headers into .deps/)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "bootstrap: installing system packages: ${missing[*]:-(headers only)}"
apt-get update -qq
if ! apt-get install -y -qq "${packages[@]}" libphonenumber-dev >/dev/null 2>&1; then
  apt-get install -y -qq "${packages[@]}" libphonenumber8 >/dev/null
  phonenumber_headers || unpack_headers
fi
phonenumber_headers || { echo "bootstrap: libphonenumber headers still missing" >&2; exit 1; }
echo "bootstrap: system packages ready"
