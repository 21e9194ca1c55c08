#!/usr/bin/env bash
# Builds what a wheel links statically and Debian ships no usable archive of, into PREFIX,
# from Debian's own source packages (with their security patches):
# - a minimal libcurl (HTTP and HTTPS only; OpenSSL and zlib linked in; no nghttp2, IDN, LDAP,
#   SSH, GSSAPI or PSL). Debian's libcurl.a needs all of those, and Kerberos has no archive.
# - libphonenumber and ICU (its code, with ICU's stub in place of the 30 MB data library) with
#   -fPIC: Debian's archives of both are position-dependent, which cannot go into a shared
#   Python module.
# Usage: scripts/wheel_deps.sh PREFIX. Quick when PREFIX is already built. Any user; needs
# dpkg-dev, protobuf-compiler and the -dev packages scripts/bootstrap.sh installs.
set -euo pipefail
prefix=$(realpath -m "${1:?usage: scripts/wheel_deps.sh PREFIX}")
# The stamp holds this script's checksum: a changed recipe rebuilds.
stamp="$prefix/.ready"
recipe=$(sha256sum "$0" | cut -c1-16)
[ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ] && exit 0
[ -f "$stamp" ] && rm -rf "$prefix"  # only ever a prefix this script made

for tool in dpkg-source protoc; do
  command -v "$tool" >/dev/null || {
    echo "wheel_deps: $tool is missing: apt-get install -y dpkg-dev protobuf-compiler" >&2; exit 1; }
done

work="$prefix/src"
rm -rf "$work" && mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
# A private apt state: source lists without touching the machine's /etc/apt or its caches.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:?}")
if [ "$(. /etc/os-release && echo "$ID")" = ubuntu ]; then
  mirror=$(grep -rhoE 'https?://[^ ]+/ubuntu/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
             2>/dev/null | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://archive.ubuntu.com/ubuntu}
  printf 'deb-src %s %s main universe\n' "${mirror%/}" "$codename" "${mirror%/}" "$codename-updates" \
    "${mirror%/}" "$codename-security" >"$work/apt/sources.list"
else
  mirror=$(grep -rhoE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
             2>/dev/null | head -n1 | tr -d ' ' || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  printf 'deb-src %s %s main\n' "${mirror%/}" "$codename" "${mirror%/}" "$codename-updates" \
    "${mirror%/}-security" "$codename-security" >"$work/apt/sources.list"
fi
apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
          -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" update -qq

# fetch NAME: Debian's source of NAME, patched, in $work/NAME.
fetch() {
  echo "wheel_deps: fetching Debian's $1 source"
  mkdir -p "$work/$1.pkg"
  (cd "$work/$1.pkg" && apt-get "${apt_opts[@]}" source --download-only -qq "$1" >/dev/null)
  # apt checked the files against the signed index; dpkg-source has no keyring to say so again.
  quietly "$work/$1.log" dpkg-source -x "$work/$1.pkg"/*.dsc "$work/$1"
}
generator=$(command -v ninja >/dev/null && echo Ninja || echo "Unix Makefiles")
common=(-G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix"
        -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DBUILD_SHARED_LIBS=OFF)
# quietly LOG COMMAND...: the output goes to LOG, and its end to stderr if COMMAND fails.
quietly() {
  local log=$1; shift
  "$@" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; echo "wheel_deps: failed: $*" >&2; exit 1; }
}

fetch curl
echo "wheel_deps: building a minimal static libcurl"
quietly "$work/curl.log" cmake -S "$work/curl" -B "$work/curl-build" "${common[@]}" \
  -DBUILD_TESTING=OFF -DBUILD_CURL_EXE=OFF -DHTTP_ONLY=ON -DCURL_DISABLE_LDAP=ON \
  -DCURL_DISABLE_LDAPS=ON -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=ON -DCURL_ZLIB=ON \
  -DZLIB_USE_STATIC_LIBS=ON -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF -DUSE_NGHTTP2=OFF -DUSE_NGHTTP3=OFF \
  -DUSE_QUICHE=OFF -DUSE_MSH3=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DUSE_LIBIDN2=OFF \
  -DCURL_USE_GSSAPI=OFF -DUSE_LIBRTMP=OFF -DENABLE_ARES=OFF -DENABLE_THREADED_RESOLVER=ON \
  -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none -DCURL_CA_FALLBACK=ON
quietly "$work/curl.log" cmake --build "$work/curl-build" -j"$(nproc)"
quietly "$work/curl.log" cmake --install "$work/curl-build"

fetch icu
echo "wheel_deps: building ICU's common and i18n libraries (static, -fPIC)"
# Only the code: libphonenumber uses ICU's regular expressions and Unicode properties, which
# ICU compiles into libicuuc; the 30 MB data library is replaced by ICU's own stub.
mkdir -p "$work/icu-build/lib" "$work/icu-build/bin"
(cd "$work/icu-build" &&
  quietly "$work/icu.log" env CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC -std=c++17" \
    "$work/icu/source/configure" --prefix="$prefix" --libdir="$prefix/lib" --enable-static \
    --disable-shared --disable-tests --disable-samples --disable-extras --disable-tools \
    --disable-icuio --disable-layoutex --disable-dyload --with-data-packaging=static &&
  for part in stubdata common i18n; do quietly "$work/icu.log" make -j"$(nproc)" -C "$part"; done)
install -D -m 644 "$work/icu-build/lib/libicuuc.a" "$prefix/lib/libicuuc.a"
install -D -m 644 "$work/icu-build/lib/libicui18n.a" "$prefix/lib/libicui18n.a"
install -D -m 644 "$work/icu-build/stubdata/libicudata.a" "$prefix/lib/libicudata.a"

fetch libphonenumber
echo "wheel_deps: building libphonenumber (static, -fPIC)"
# As Debian configures it (no Boost: POSIX locks), less the geocoder and the Java metadata step.
quietly "$work/libphonenumber.log" cmake -S "$work/libphonenumber/cpp" \
  -B "$work/libphonenumber-build" "${common[@]}" -DUSE_BOOST=OFF -DBUILD_GEOCODER=OFF \
  -DREGENERATE_METADATA=OFF -DBUILD_STATIC_LIB=ON
quietly "$work/libphonenumber.log" cmake --build "$work/libphonenumber-build" -j"$(nproc)" \
  --target phonenumber
install -D -m 644 "$work/libphonenumber-build/libphonenumber.a" "$prefix/lib/libphonenumber.a"
# Its headers too (the .pb.h files are generated into the source tree): no -dev package needed.
(cd "$work/libphonenumber/cpp/src" &&
  find phonenumbers -name '*.h' -exec install -D -m 644 {} "$prefix/include/{}" \;)

rm -rf "$work"
echo "$recipe" >"$stamp"
echo "wheel_deps: static libcurl, ICU and libphonenumber ready in $prefix"
