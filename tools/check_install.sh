#!/usr/bin/env bash
# The install test of `make check` (target check-install): install into a
# scratch DESTDIR the Debian multiarch way, then build and run, through
# pkg-config and nothing else, a C program against the shared library, the
# same program against the static archive, and a C++ program; check what was
# installed where, that it is stripped, and that uninstall removes it all.
#
# Prints one line per check and, last, "install: N passed, M failed".
# Usage: tools/check_install.sh [MAKE] (run from the repository root).
set -uo pipefail
make=${1:-make}
cc=${CC:-cc}
cxx=${CXX:-g++}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
prefix=/usr
libdir=/usr/lib/x86_64-linux-gnu # any path outside PREFIX/lib would do
passed=0 failed=0

check() { # check NAME COMMAND...: run it, count it, show its output on failure
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "install: ok: $name"
    else
        failed=$((failed + 1))
        echo "install: FAILED: $name"
        printf '%s\n' "$out" | head -20 | sed 's/^/    /'
    fi
}

# pkg-config sees only the staged tree: the .pc files say libdir=/usr/...,
# and PKG_CONFIG_SYSROOT_DIR puts the stage in front of their -I and -L.
pc() {
    PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$stage$libdir/pkgconfig pkg-config "$@"
}

check "make install DESTDIR=... PREFIX=$prefix LIBDIR=$libdir" \
    "$make" --no-print-directory install DESTDIR="$stage" PREFIX=$prefix LIBDIR=$libdir
check "the library went to DESTDIR + LIBDIR, the header to PREFIX/include" \
    test -f "$stage$libdir/libvais_alloc.a" -a -L "$stage$libdir/libvais_alloc.so" \
    -a -f "$stage$prefix/include/vais_alloc.h" -a -f "$stage$prefix/include/vais_alloc.hpp"
check "nothing was written outside DESTDIR + PREFIX" \
    bash -c "[ -z \"\$(find '$stage' -mindepth 1 -maxdepth 1 ! -name usr)\" ]"
check "vais_alloc.pc names the installed libdir, without DESTDIR" \
    grep -qx "libdir=$libdir" "$stage$libdir/pkgconfig/vais_alloc.pc"
check "the installed .so is stripped (no .symtab, API still exported)" \
    bash -c "! readelf -S '$stage$libdir/libvais_alloc.so' | grep -q '\\.symtab' &&
             nm -D --defined-only '$stage$libdir/libvais_alloc.so' | grep -q ' T bump_alloc\$'"

flags=$(pc --cflags --libs vais_alloc)
check "C (shared): cc demo.c \$(pkg-config --cflags --libs vais_alloc)" \
    $cc -std=c11 -Wall -Wextra -Werror examples/demo.c $flags -o "$stage/demo"
check "C (shared): runs, and needs libvais_alloc.so.0" \
    bash -c "LD_LIBRARY_PATH='$stage$libdir' '$stage/demo' >/dev/null &&
             readelf -d '$stage/demo' | grep -q 'NEEDED.*libvais_alloc.so.0'"

static=$(pc --cflags --libs vais_alloc-static)
check "C (static): cc demo.c \$(pkg-config --cflags --libs vais_alloc-static)" \
    $cc -std=c11 -Wall -Wextra -Werror examples/demo.c $static -o "$stage/demo-static"
check "C (static): runs with no libvais_alloc.so to find" \
    bash -c "'$stage/demo-static' >/dev/null && ! readelf -d '$stage/demo-static' | grep -q libvais_alloc"
strip "$stage/demo-static" 2>/dev/null
echo "install: the demo linked statically and stripped is $(stat -c %s "$stage/demo-static") bytes"

# Sizes, bounded loosely (they vary with the toolchain) but tightly enough
# to fail if the archive loses the release profile's LTO (it then carries
# the whole standard library unoptimised: 13 MB installed instead of 3) or
# the static flags lose --gc-sections (a global-only program is then about
# 370 KB instead of 15).
archive_bytes=$(stat -c %s "$stage$libdir/libvais_alloc.a")
check "the installed archive is LTO-built: under 6 MB ($archive_bytes bytes)" \
    test "$archive_bytes" -lt 6000000
cat > "$stage/small.c" <<'EOF'
#include <stdio.h>
#include <vais_alloc.h>
int main(void) {
    Allocation a = global_alloc(VAIS_LAYOUT_OF(int));
    printf("%d\n", a.ptr != 0);
    global_dealloc(a.ptr, VAIS_LAYOUT_OF(int));
    return 0;
}
EOF
check "C (static): a program of global and layout calls only builds and runs" \
    bash -c "$cc -std=c11 -Wall -Wextra -Werror '$stage/small.c' $static -o '$stage/small' && '$stage/small' >/dev/null"
strip "$stage/small" 2>/dev/null
small_bytes=$(stat -c %s "$stage/small" 2>/dev/null || echo 0)
# Every function's refusal composes its error detail and may print the
# misuse handler's line: std's formatting and I/O come with any function
# (about 290 KB); the allocators a program does not call stay out.
check "C (static): that program stripped is under 400 KB ($small_bytes bytes): unused allocators are left out" \
    test "$small_bytes" -gt 0 -a "$small_bytes" -lt 409600

check "C++: g++ hello_pmr.cpp \$(pkg-config --cflags --libs vais_alloc)" \
    $cxx -std=c++17 -Wall -Wextra -Werror examples/hello_pmr.cpp $flags -o "$stage/hello_pmr"
check "C++: runs" \
    env LD_LIBRARY_PATH="$stage$libdir" "$stage/hello_pmr"

check "make uninstall removes everything it installed" \
    bash -c "'$make' --no-print-directory uninstall DESTDIR='$stage' PREFIX=$prefix LIBDIR=$libdir >/dev/null &&
             [ -z \"\$(find '$stage/usr' -type f -o -type l)\" ]"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
