#!/usr/bin/env bash
# vais/build.sh PROGRAM.vais [OUTPUT] - build a Vais program against libvais_alloc
#
# What it does is what a Vais user would otherwise type (vais/README.md):
#   VAIS_STD_PATH=<repo>/vais/std VAIS_SINGLE_MODULE=1 VAIS_NO_UPDATE_CHECK=1 \
#       vaisc build --emit-ir PROGRAM.vais -o OUTPUT.ll
#   clang OUTPUT.ll -o OUTPUT -L<lib dir> -lvais_alloc -Wl,-rpath,<lib dir>
# Environment: VAISC (default: vaisc on PATH), VAIS_LIB_DIR (default:
# <repo>/target/release), VAIS_CLANG (default: clang), VAIS_CLANG_FLAGS
# (e.g. -O2: optimise in clang; vaisc itself must stay at -O0),
# VAIS_STD_PATH (default: <repo>/vais/std), VAIS_DEP_PATHS (add the
# directory holding the compiler's std/ to use its other modules).

set -eu

if (($# < 1 || $# > 2)); then
    echo "usage: vais/build.sh PROGRAM.vais [OUTPUT]" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vaisc=${VAISC:-$(command -v vaisc || true)}
lib_dir=${VAIS_LIB_DIR:-$here/../target/release}
lib_dir=$(cd "$lib_dir" && pwd)
program=$1
output=${2:-${program%.vais}}

if [[ -z "$vaisc" ]]; then
    echo "vais/build.sh: no vaisc: set VAISC=<path to vaisc> (see vais/README.md)" >&2
    exit 2
fi

export VAIS_STD_PATH=${VAIS_STD_PATH:-$here/std}
export VAIS_SINGLE_MODULE=1
export VAIS_NO_UPDATE_CHECK=1
export VAIS_SUPPRESS_SINGLE_CHAR_WARN=1

rm -f "$output.ll"
"$vaisc" build --emit-ir "$program" -o "$output.ll" 2>&1 | grep -v '^\[build\]' || true
[[ -s "$output.ll" ]] || exit 1
# shellcheck disable=SC2086
"${VAIS_CLANG:-clang}" -w ${VAIS_CLANG_FLAGS:-} "$output.ll" -o "$output" \
    -L"$lib_dir" -lvais_alloc -Wl,-rpath,"$lib_dir"
