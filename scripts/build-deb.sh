#!/usr/bin/env bash
# Builds Cordon's Debian package from this tree (debian/, dpkg-buildpackage) and runs lintian on it.
# The tree as it is (committed or not, untracked files that git does not ignore included) is copied
# to OUT/src first, so the build leaves the checkout untouched and dpkg-buildpackage's output (it
# writes beside the source directory) lands in OUT.
#
# Usage: scripts/build-deb.sh [--from-build BUILD_DIR] [OUT]        (default OUT: build/deb)
#   --from-build: package that build tree's binaries (`cmake --install BUILD_DIR --prefix /usr`)
#   instead of building them again (what CI does after building and testing them; seconds instead
#   of a full build). Without it, dpkg-buildpackage builds from the source copy (debian/rules).
# Prints the .deb's path on the last line. lintian's tags are in OUT/lintian.txt (CORDON_DEB_LINTIAN=0:
# lintian is not run)
# (docs/deploy.md "Debian package" explains each one that remains).
set -euo pipefail
cd "$(dirname "$0")/.."
PREBUILT=
if [[ ${1:-} == --from-build ]]; then
  PREBUILT=$(realpath "${2:?--from-build needs the build directory}")
  [[ -x $PREBUILT/bin/cordond && -f $PREBUILT/cmake_install.cmake ]] || {
    echo "build-deb: $PREBUILT is not a built tree (scripts/build.sh first)" >&2; exit 1; }
  shift 2
fi
OUT=$(realpath -m "${1:-build/deb}")
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
src=$OUT/src/cordon-$version
rm -rf "$OUT/src" "$OUT"/cordon_* "$OUT"/cordon-dbgsym_*
mkdir -p "$src"
while IFS= read -r -d '' f; do
  [[ $f != build/* && -e $f ]] && printf '%s\0' "$f"
done < <(git ls-files -z --cached --others --exclude-standard) | tar --null -T - -cf - | tar -xf - -C "$src"
# dh runs with HOME set to a scratch directory, so ccache is told where its cache is.
if command -v ccache >/dev/null; then
  export CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)} CCACHE_BASEDIR=$src
fi
start=$(date +%s)
# No -dbgsym package unless asked (CORDON_DEB_DBGSYM=1): xz-compressing the debug info of the three
# static binaries took most of a 9-minute build on the 2-core VM.
opts="nocheck parallel=${CORDON_DEB_JOBS:-2}"
[[ ${CORDON_DEB_DBGSYM:-0} == 1 ]] || opts+=" noautodbgsym"
# CORDON_DEB_FAST=1 (CI, scripts/deb-test.sh): binaries left unstripped and the .deb gzip-compressed,
# which saves most of the time of a package that is installed once and thrown away.
if [[ ${CORDON_DEB_FAST:-0} == 1 ]]; then
  opts+=" nostrip"
  export DPKG_DEB_COMPRESSOR_TYPE=gzip DPKG_DEB_COMPRESSOR_LEVEL=1
fi
(cd "$src" && CORDON_PREBUILT=$PREBUILT DEB_BUILD_OPTIONS="$opts" \
  dpkg-buildpackage -b -us -uc --no-sign >"$OUT/build.log" 2>&1) || {
  echo "build-deb: dpkg-buildpackage failed; the end of $OUT/build.log:" >&2
  tail -n 40 "$OUT/build.log" >&2
  exit 1
}
echo "build-deb: built in $(($(date +%s) - start)) s" >&2
deb=$(ls "$OUT"/src/cordon_"$version"_*.deb)
mv "$OUT"/src/cordon_* "$OUT"/src/cordon-dbgsym_* "$OUT"/ 2>/dev/null || true
deb=$OUT/$(basename "$deb")
if [[ ${CORDON_DEB_LINTIAN:-1} == 0 ]]; then
  echo "build-deb: lintian not run (CORDON_DEB_LINTIAN=0)" >&2
elif command -v lintian >/dev/null; then
  lintian --info --display-info --pedantic "$OUT"/cordon_"$version"_*.changes >"$OUT/lintian.txt" 2>&1 || true
  echo "build-deb: lintian: $(grep -cE '^[EWIP]: ' "$OUT/lintian.txt" || true) tags (E errors, W warnings, I info, P pedantic), in $OUT/lintian.txt:" >&2
  grep -E '^[EWIP]: ' "$OUT/lintian.txt" | sort | uniq -c >&2 || true
else
  echo "build-deb: lintian is not installed (apt-get install lintian): not checked" >&2
fi
echo "$deb"
