# libvais_alloc: build, test, demo, install.
#
#   make            release libvais_alloc.so / .a and include/vais_alloc.h
#   make demo       build and run examples/demo.c against the shared library
#   make check      every test: cargo tests, ABI check, C and C++ tests (plain,
#                   Valgrind, ASan+UBSan), header freshness, clippy, fmt
#   make bench      benchmarks against peers (see BENCHMARKS.md)
#   make install    PREFIX=/usr/local LIBDIR=$(PREFIX)/lib DESTDIR=
#                   (uninstall, with the same variables, to undo)

SHELL   := bash
CARGO   ?= cargo
CC      ?= cc
CXX     ?= g++
PREFIX  ?= /usr/local
DESTDIR ?=
PYTHON  ?= python3

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

RELEASE := target/release
SO      := $(RELEASE)/libvais_alloc.so
STATIC  := $(RELEASE)/libvais_alloc.a
HEADER  := include/vais_alloc.h
RPATH   := -Wl,-rpath,$(CURDIR)/$(RELEASE)

CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L
CWARN   := -Wall -Wextra -Werror -Wno-unused-function
CFLAGS  ?= -O2 -g
LINK    := -L$(RELEASE) -lvais_alloc $(RPATH) -lpthread

C_TEST_SRC := $(sort $(wildcard c_tests/*.c))
C_BUILD    := c_tests/build
VALGRIND   := valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect

.PHONY: all lib header check-header demo check test abi c-tests c-plain c-valgrind \
        c-asan c-memory-tools lint symbols bench bench-build install uninstall clean check-install readme-snippets

all: lib header

# The C artifacts are built by `cargo rustc` with their crate types named:
# `cargo build` of a lib that is also an rlib (the Rust tests and benches
# use it as one) leaves out the profile's LTO for every output, and the
# archive then carries the whole unoptimised standard library (22 MB
# instead of 7.6, the .so 523 KB instead of 444).
CARGO_LIB = $(CARGO) rustc --release --lib --crate-type cdylib,staticlib

# The soname is libvais_alloc.so.$(MAJOR): link it beside the build so
# programs linked against target/release find it at run time.
lib:
	$(CARGO_LIB)
	@ln -sf libvais_alloc.so $(RELEASE)/libvais_alloc.so.$(MAJOR)

# Print the path of the header cbindgen just generated into OUT_DIR.
GENERATED_HEADER = $(CARGO_LIB) --message-format=json 2>/dev/null \
	| $(PYTHON) tools/generated_header.py

header: lib
	@src=$$($(GENERATED_HEADER)) && cp "$$src" $(HEADER) && echo "header: $(HEADER) updated from $$src"

check-header: lib
	@src=$$($(GENERATED_HEADER)) && if cmp -s "$$src" $(HEADER); then \
		echo "header: $(HEADER) is fresh"; \
	else \
		diff -u $(HEADER) "$$src" | head -40; \
		echo "header: $(HEADER) is stale: run 'make header' and commit it"; exit 1; \
	fi

demo: lib
	@mkdir -p examples/build
	$(CC) $(CSTD) $(CWARN) $(CFLAGS) -Iinclude examples/demo.c -o examples/build/demo $(LINK)
	./examples/build/demo

# ---- tests ---------------------------------------------------------------

# The benchmarks are built (and linted) only when asked: BENCH=1.
# It ends with one line per suite and the total (tools/summarize.py).
check: check-header lint test abi symbols c-tests cpp-tests readme-snippets check-install \
       vais-tests $(if $(BENCH),bench-build)
	@$(PYTHON) tools/summarize.py cargo=$(CHECK_LOGS)/cargo-test.log \
		"ABI check=$(CHECK_LOGS)/abi.log" \
		"C plain=$(C_BUILD)/plain.log" "C under Valgrind=$(C_BUILD)/valgrind.log" \
		"C under ASan+UBSan=$(C_BUILD)/asan.log" \
		"memory tools see misuse=$(C_BUILD)/memory-tools.log" \
		"C++ plain=$(CPP_BUILD)/plain.log" "C++ under Valgrind=$(CPP_BUILD)/valgrind.log" \
		"C++ under ASan+UBSan=$(CPP_BUILD)/asan.log" \
		"README snippets=$(CHECK_LOGS)/readme.log" "install=$(CHECK_LOGS)/install.log" \
		"Vais=$(CHECK_LOGS)/vais.log"

CHECK_LOGS := target/check-logs

# Unit, integration/property and doc tests of the crate (the ABI crate has
# none: `make abi` runs it). The log feeds the summary line of `make check`.
test:
	@mkdir -p $(CHECK_LOGS)
	$(CARGO) test -p vais_alloc 2>&1 | tee $(CHECK_LOGS)/cargo-test.log; exit $${PIPESTATUS[0]}

abi:
	@mkdir -p $(CHECK_LOGS)
	$(CARGO) run --quiet --release -p vais_alloc_abi_check 2>&1 | tee $(CHECK_LOGS)/abi.log; exit $${PIPESTATUS[0]}

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --lib --quiet

# Only API names may leave the shared object.
symbols: lib
	@stray=$$(nm -D --defined-only $(SO) | awk '{print $$3}' \
		| grep -v -E '^(layout|global|bump|pool|freelist|stack|allocator|vais_alloc)_|^VAIS_ALLOC_' || true); \
	if [ -n "$$stray" ]; then echo "symbols: non-API exports: $$stray"; exit 1; fi; \
	readelf -d $(SO) | grep -q 'SONAME.*libvais_alloc.so.$(MAJOR)' || { echo "symbols: soname missing"; exit 1; }; \
	echo "symbols: $$(nm -D --defined-only $(SO) | grep -c ' T ') API functions exported, nothing else"

c-tests: c-plain c-valgrind c-asan c-memory-tools

$(C_BUILD)/run_tests: $(C_TEST_SRC) $(wildcard c_tests/*.h) $(HEADER) $(SO)
	@mkdir -p $(C_BUILD)
	$(CC) $(CSTD) $(CWARN) $(CFLAGS) -Iinclude -Ic_tests $(C_TEST_SRC) -o $@ $(LINK)

$(C_BUILD)/run_tests_asan: $(C_TEST_SRC) $(wildcard c_tests/*.h) $(HEADER) $(SO)
	@mkdir -p $(C_BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all -Iinclude -Ic_tests $(C_TEST_SRC) -o $@ $(LINK)

$(SO): lib

c-plain: lib $(C_BUILD)/run_tests
	./$(C_BUILD)/run_tests | tee $(C_BUILD)/plain.log; exit $${PIPESTATUS[0]}

c-valgrind: lib $(C_BUILD)/run_tests
	$(VALGRIND) ./$(C_BUILD)/run_tests > $(C_BUILD)/valgrind.log || { cat $(C_BUILD)/valgrind.log; exit 1; }
	@tail -1 $(C_BUILD)/valgrind.log | sed 's/^/valgrind: /'

# Tests that ask for impossible sizes on purpose make ASan warn "failed to
# allocate" (allocator_may_return_null lets the call fail instead): those
# warnings are counted, anything else ASan says is shown.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_QUIET = grep -v 'WARNING: AddressSanitizer failed to allocate' $(1).err; \
	echo "asan+ubsan: $$(grep -c 'AddressSanitizer failed to allocate' $(1).err) expected \
	'failed to allocate' warnings (impossible sizes asked for on purpose)"; tail -1 $(1) | sed 's/^/asan+ubsan: /'

c-asan: lib $(C_BUILD)/run_tests_asan
	@echo "$(ASAN_ENV) ./$(C_BUILD)/run_tests_asan"
	@$(ASAN_ENV) ./$(C_BUILD)/run_tests_asan > $(C_BUILD)/asan.log 2> $(C_BUILD)/asan.log.err \
		|| { cat $(C_BUILD)/asan.log $(C_BUILD)/asan.log.err; exit 1; }
	@$(call ASAN_QUIET,$(C_BUILD)/asan.log)

# Memory-tool visibility: c_tests/tools/misuse.c commits one bug per case in
# memory from our allocators (overrun, use after free/pop/reset, header
# read, leak); each case must be reported by Memcheck and by ASan, and the
# correct case by neither (tools/memory_tool_tests.py).
MISUSE_SRC := c_tests/tools/misuse.c

$(C_BUILD)/misuse: $(MISUSE_SRC) $(HEADER) $(SO)
	@mkdir -p $(C_BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g -Iinclude $(MISUSE_SRC) -o $@ $(LINK)

$(C_BUILD)/misuse_asan: $(MISUSE_SRC) $(HEADER) $(SO)
	@mkdir -p $(C_BUILD)
	$(CC) $(CSTD) $(CWARN) -O1 -g -fsanitize=address -fno-omit-frame-pointer -Iinclude \
		$(MISUSE_SRC) -o $@ $(LINK)

c-memory-tools: lib $(C_BUILD)/misuse $(C_BUILD)/misuse_asan
	$(PYTHON) tools/memory_tool_tests.py $(C_BUILD)/misuse $(C_BUILD)/misuse_asan \
		| tee $(C_BUILD)/memory-tools.log; exit $${PIPESTATUS[0]}

# C++: include/vais_alloc.hpp (std::pmr over every allocator), checked
# standalone, then cpp_tests/ run plain, under Valgrind and with ASan+UBSan.

CXXSTD       := -std=c++17
CXXWARN      := -Wall -Wextra -Werror
CXXFLAGS     ?= -O2 -g
HPP          := include/vais_alloc.hpp
CPP_TEST_SRC := $(sort $(wildcard cpp_tests/*.cpp))
CPP_BUILD    := cpp_tests/build

.PHONY: cpp-tests cpp-header cpp-plain cpp-valgrind cpp-asan

cpp-tests: cpp-header cpp-plain cpp-valgrind cpp-asan

# Each header on its own, as a user's first include: the C++ one pedantic
# (and stricter on conversions, with and without RTTI), the C one as C++.
cpp-header:
	$(CXX) $(CXXSTD) $(CXXWARN) -Wpedantic -fsyntax-only -Iinclude -x c++ $(HPP)
	$(CXX) $(CXXSTD) $(CXXWARN) -Wpedantic -Wconversion -Wsign-conversion -Wshadow \
		-fno-rtti -fsyntax-only -Iinclude -x c++ $(HPP)
	$(CXX) $(CXXSTD) $(CXXWARN) -Wpedantic -fsyntax-only -x c++ $(HEADER)
	@echo "cpp-header: $(HPP) and $(HEADER) compile standalone as C++17"

$(CPP_BUILD)/test_pmr: $(CPP_TEST_SRC) $(HPP) $(HEADER) $(SO)
	@mkdir -p $(CPP_BUILD)
	$(CXX) $(CXXSTD) $(CXXWARN) $(CXXFLAGS) -Iinclude $(CPP_TEST_SRC) -o $@ $(LINK)

$(CPP_BUILD)/test_pmr_asan: $(CPP_TEST_SRC) $(HPP) $(HEADER) $(SO)
	@mkdir -p $(CPP_BUILD)
	$(CXX) $(CXXSTD) $(CXXWARN) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		-fno-sanitize-recover=all -Iinclude $(CPP_TEST_SRC) -o $@ $(LINK)

cpp-plain: lib $(CPP_BUILD)/test_pmr
	./$(CPP_BUILD)/test_pmr | tee $(CPP_BUILD)/plain.log; exit $${PIPESTATUS[0]}

cpp-valgrind: lib $(CPP_BUILD)/test_pmr
	$(VALGRIND) ./$(CPP_BUILD)/test_pmr > $(CPP_BUILD)/valgrind.log || { cat $(CPP_BUILD)/valgrind.log; exit 1; }
	@tail -1 $(CPP_BUILD)/valgrind.log | sed 's/^/valgrind: /'

# The same sanitizer options as c-asan.
cpp-asan: lib $(CPP_BUILD)/test_pmr_asan
	@echo "$(ASAN_ENV) ./$(CPP_BUILD)/test_pmr_asan"
	@$(ASAN_ENV) ./$(CPP_BUILD)/test_pmr_asan > $(CPP_BUILD)/asan.log 2> $(CPP_BUILD)/asan.log.err \
		|| { cat $(CPP_BUILD)/asan.log $(CPP_BUILD)/asan.log.err; exit 1; }
	@$(call ASAN_QUIET,$(CPP_BUILD)/asan.log)

# Every C and C++ block of README.md, built (C as C99, C11 and C++) and run.
readme-snippets: lib
	@mkdir -p $(CHECK_LOGS)
	@$(PYTHON) tools/readme_snippets.py README.md $(CHECK_LOGS)/readme -- $(LINK) \
		> $(CHECK_LOGS)/readme.log; status=$$?; cat $(CHECK_LOGS)/readme.log; exit $$status

# ---- Vais ------------------------------------------------------------------

# check-vais (VAISC=<path>) and vais-tests (skipped without a compiler).
include vais/vais.mk

# ---- benchmarks ----------------------------------------------------------

bench-build:
	@if [ -f benches/Makefile ]; then $(MAKE) -C benches build lint; fi

bench:
	$(MAKE) -C benches run

# ---- install -------------------------------------------------------------

# The GNU directory variables: each is the installed path, without DESTDIR
# (`make install DESTDIR=/tmp/stage PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu`
# stages a Debian multiarch install). The .so is stripped on install and the
# archive loses its debug sections (7.6 MB -> 3.0 MB).
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
STRIP        ?= strip
# What a static link of the Rust standard library needs from the system
# (`rustc --print native-static-libs`; -lc is implied).
NATIVE_LIBS  := -lgcc_s -lutil -lrt -lpthread -lm -ldl
PC_SUBST     := -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
                -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
                -e 's|@NATIVE_LIBS@|$(NATIVE_LIBS)|g'
D_LIB        := $(DESTDIR)$(LIBDIR)
D_INC        := $(DESTDIR)$(INCLUDEDIR)
D_PC         := $(DESTDIR)$(PKGCONFIGDIR)

install: lib
	install -d $(D_LIB) $(D_INC) $(D_PC)
	install -m 755 $(SO) $(D_LIB)/libvais_alloc.so.$(VERSION)
	$(STRIP) --strip-unneeded $(D_LIB)/libvais_alloc.so.$(VERSION)
	ln -sf libvais_alloc.so.$(VERSION) $(D_LIB)/libvais_alloc.so.$(MAJOR)
	ln -sf libvais_alloc.so.$(MAJOR) $(D_LIB)/libvais_alloc.so
	install -m 644 $(STATIC) $(D_LIB)/libvais_alloc.a
	$(STRIP) --strip-debug $(D_LIB)/libvais_alloc.a
	install -m 644 $(HEADER) $(D_INC)/vais_alloc.h
	install -m 644 include/vais_alloc.hpp $(D_INC)/vais_alloc.hpp
	sed $(PC_SUBST) vais_alloc.pc.in > $(D_PC)/vais_alloc.pc
	sed $(PC_SUBST) vais_alloc-static.pc.in > $(D_PC)/vais_alloc-static.pc

uninstall:
	rm -f $(D_LIB)/libvais_alloc.so.$(VERSION) $(D_LIB)/libvais_alloc.so.$(MAJOR) \
		$(D_LIB)/libvais_alloc.so $(D_LIB)/libvais_alloc.a \
		$(D_INC)/vais_alloc.h $(D_INC)/vais_alloc.hpp \
		$(D_PC)/vais_alloc.pc $(D_PC)/vais_alloc-static.pc

# Install into a scratch DESTDIR (multiarch LIBDIR), build a C program
# shared and static and a C++ program through pkg-config, run them,
# uninstall (tools/check_install.sh).
check-install: lib
	@mkdir -p $(CHECK_LOGS)
	@CC=$(CC) CXX=$(CXX) tools/check_install.sh $(MAKE) > $(CHECK_LOGS)/install.log 2>&1; \
		status=$$?; grep -v '^install: ok:' $(CHECK_LOGS)/install.log; exit $$status

clean:
	$(CARGO) clean
	rm -rf $(C_BUILD) $(CPP_BUILD) examples/build
	@if [ -f benches/Makefile ]; then $(MAKE) -C benches clean; fi
