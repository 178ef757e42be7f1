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
#   VAIS_VALGRIND=1  run each program under valgrind (errors and definite
#                  leaks fail the test)
#   VAIS_COMPILER_ROOT  the directory holding the compiler's std/ (default:
#                  the source tree of VAISC, if it was built in place)
#
# A test is a program; it passes when it builds and exits 0 (each program
# counts its own checks and prints `checks: N run, M failed`). One more
# test, `binding-covers-header`, checks that vais/allocator.vais declares
# every function include/vais_alloc.h exports. The last line printed is
# `vais: N passed, M failed`; the exit status is 1 if any failed.
# Tests named with_std_* also use modules of the compiler's own std; they
# are skipped (and not counted) when that std is not found.
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

setup_error() { # message: nothing could run
    echo "vais: $1" >&2
    echo "vais: 0 passed, 1 failed"
    exit 2
}
[[ -n "$vaisc" && -x "$vaisc" ]] ||
    setup_error "no vaisc at '${vaisc}': set VAISC=<path to vaisc> (see vais/README.md)"
[[ -e "$lib_dir/libvais_alloc.so" ]] ||
    setup_error "$lib_dir/libvais_alloc.so not found: run 'make lib' first"
command -v "$clang" >/dev/null ||
    setup_error "$clang not found (apt-get install clang)"

# The compiler's own std (for tests that use other std modules beside
# std/allocator): VAIS_COMPILER_ROOT, else the source tree vaisc was built
# in (<root>/target/release/vaisc). Reached through VAIS_DEP_PATHS, which
# the compiler consults only for modules the std root (ours) lacks.
compiler_root=${VAIS_COMPILER_ROOT:-$(cd "$(dirname "$vaisc")/../.." 2>/dev/null && pwd)}
if [[ -n "$compiler_root" && -f "$compiler_root/std/math.vais" ]]; then
    export VAIS_DEP_PATHS="$compiler_root${VAIS_DEP_PATHS:+:$VAIS_DEP_PATHS}"
else
    compiler_root=
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
    if [[ $name == with_std_* && -z "$compiler_root" ]]; then
        echo "---- $name: skipped (needs the compiler's std: set VAIS_COMPILER_ROOT)"
        continue
    fi
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
    if [[ ${VAIS_VALGRIND:-0} == 1 ]]; then
        valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect "$exe"
    else
        "$exe"
    fi
    record "$name" $?
done

if ((failed > 0)); then
    echo "failed: ${failed_names[*]}"
fi
echo "vais: $passed passed, $failed failed"
((failed == 0))
