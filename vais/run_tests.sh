#!/usr/bin/env bash
# vais/run_tests.sh - build and run the Vais tests of libvais_alloc.
#
#   vais/run_tests.sh [TEST.vais ...]      (default: every vais/tests/*.vais)
#
# Environment:
#   VAISC          the compiler (default: `vaisc` on PATH); vaisc at commit
#                  82bd782 of github.com/vaislang/vais, see vais/README.md
#   VAIS_LIB_DIR   where libvais_alloc.so is (default: <repo>/target/release)
#   VAIS_BUILD_DIR where programs are built (default: <repo>/target/vais-tests)
#   VAIS_CLANG     the clang that links the IR (default: clang)
#
# A test is a program; it passes when it builds and exits 0 (each program
# counts its own checks and prints `checks: N run, M failed`). One more
# test, `binding-covers-header`, checks that vais/allocator.vais declares
# every function include/vais_alloc.h exports. The last line printed is
# `vais: N passed, M failed`; the exit status is 1 if any failed.
#
# How each program is built (the compiler's limits, handled here so that a
# test is written as any Vais program):
#   VAIS_STD_PATH=<repo>/vais/std   `use std/allocator` reaches the binding
#   VAIS_SINGLE_MODULE=1            per-module codegen of vaisc emits IR
#                                   clang rejects for any program that imports
#   default -O0                     vaisc -O1..-O3 miscompiles struct results
#   vaisc build --emit-ir, then clang ... -lvais_alloc -Wl,-rpath,<lib dir>
#                                   vaisc build has no -l/-L flag
# Sources are copied to the build directory first: vaisc writes its
# .vais-cache beside the source, which must not land in the repository.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
vaisc=${VAISC:-$(command -v vaisc || true)}
lib_dir=${VAIS_LIB_DIR:-$repo/target/release}
build_dir=${VAIS_BUILD_DIR:-$repo/target/vais-tests}
clang=${VAIS_CLANG:-clang}

if [[ -z "$vaisc" || ! -x "$vaisc" ]]; then
    echo "vais: no vaisc: set VAISC=<path to vaisc> (see vais/README.md)" >&2
    exit 2
fi
if [[ ! -e "$lib_dir/libvais_alloc.so" ]]; then
    echo "vais: $lib_dir/libvais_alloc.so not found: run 'make lib' first" >&2
    exit 2
fi
if ! command -v "$clang" >/dev/null; then
    echo "vais: $clang not found (apt-get install clang)" >&2
    exit 2
fi

export VAIS_STD_PATH="$here/std"
export VAIS_SINGLE_MODULE=1
export VAIS_NO_UPDATE_CHECK=1
export VAIS_SUPPRESS_SINGLE_CHAR_WARN=1

if (($# > 0)); then
    tests=("$@")
else
    tests=()
    for t in "$here"/tests/*.vais; do
        [[ $(basename "$t") == check.vais ]] || tests+=("$t")
    done
fi

mkdir -p "$build_dir/src"
cp "$here"/tests/check.vais "$build_dir/src/"
passed=0
failed=0
failed_names=()

record() { # name status
    if [[ $2 == 0 ]]; then
        passed=$((passed + 1))
        echo "PASS $1"
    else
        failed=$((failed + 1))
        failed_names+=("$1")
        echo "FAIL $1"
    fi
}

# Every function of the header is declared in the binding.
missing=$(comm -23 \
    <(sed -n 's/^[a-z].*[ *]\([a-z_0-9]*\)(.*);$/\1/p' "$repo/include/vais_alloc.h" | sort -u) \
    <(sed -n 's/^impl fn \([a-z_0-9]*\)(.*/\1/p' "$here/allocator.vais" | sort -u))
if [[ -n "$missing" ]]; then
    echo "binding-covers-header: not declared in vais/allocator.vais:" $missing
    record binding-covers-header 1
else
    record binding-covers-header 0
fi

for t in "${tests[@]}"; do
    name=$(basename "$t" .vais)
    src="$build_dir/src/$name.vais"
    exe="$build_dir/$name"
    cp "$t" "$src"
    rm -f "$exe" "$exe.ll"
    echo "---- $name"
    if ! (cd "$build_dir" && "$vaisc" build --emit-ir "$src" -o "$exe.ll") >"$exe.build.log" 2>&1; then
        grep -v '^\[build\]' "$exe.build.log" | tail -20
        echo "$name: vaisc failed"
        record "$name" 1
        continue
    fi
    if ! "$clang" -w "$exe.ll" -o "$exe" -L"$lib_dir" -lvais_alloc -Wl,-rpath,"$lib_dir" 2>&1 | tail -20 ||
        [[ ! -x "$exe" ]]; then
        echo "$name: clang failed"
        record "$name" 1
        continue
    fi
    "$exe"
    record "$name" $?
done

if ((failed > 0)); then
    echo "failed: ${failed_names[*]}"
fi
echo "vais: $passed passed, $failed failed"
((failed == 0))
