#!/usr/bin/env bash
# Configures and builds Cordon into ${BUILD_DIR:-build}. Extra arguments go to cmake. Where ccache
# is installed it is used (a rebuild of an unchanged file is a cache hit); CORDON_NO_CCACHE=1 turns
# that off.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
launcher=()
if [[ -z ${CORDON_NO_CCACHE:-} ]] && command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
ninja -C "$BUILD_DIR" ${NINJA_FLAGS:-}
