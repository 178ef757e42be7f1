# libvais_alloc: build, test, demo, install.
#
#   make            release libvais_alloc.so / .a and include/vais_alloc.h
#   make demo       build and run examples/demo.c against the shared library
#   make check      every test: cargo tests, ABI check, C and C++ tests (plain,
#                   Valgrind, ASan+UBSan), header freshness, clippy, fmt
#   make bench      benchmarks against peers (see BENCHMARKS.md)
#   make install    PREFIX=/usr/local DESTDIR=  (uninstall to undo)

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
        c-asan lint symbols bench bench-build install uninstall clean check-install

all: lib header

# The soname is libvais_alloc.so.$(MAJOR): link it beside the build so
# programs linked against target/release find it at run time.
lib:
	$(CARGO) build --release --lib
	@ln -sf libvais_alloc.so $(RELEASE)/libvais_alloc.so.$(MAJOR)

# Print the path of the header cbindgen just generated into OUT_DIR.
GENERATED_HEADER = $(CARGO) build --release --lib --message-format=json 2>/dev/null \
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
check: check-header lint test abi symbols c-tests cpp-tests check-install $(if $(BENCH),bench-build)
	@$(PYTHON) tools/summarize.py $(CHECK_LOGS)/cargo-test.log $(C_BUILD)/plain.log $(CPP_BUILD)/plain.log

CHECK_LOGS := target/check-logs

# Unit, integration/property and doc tests of the crate (the ABI crate has
# none: `make abi` runs it). The log feeds the summary line of `make check`.
test:
	@mkdir -p $(CHECK_LOGS)
	$(CARGO) test -p vais_alloc 2>&1 | tee $(CHECK_LOGS)/cargo-test.log; exit $${PIPESTATUS[0]}

abi:
	$(CARGO) run --quiet --release -p vais_alloc_abi_check

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

c-tests: c-plain c-valgrind c-asan

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

c-asan: lib $(C_BUILD)/run_tests_asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./$(C_BUILD)/run_tests_asan > $(C_BUILD)/asan.log || { cat $(C_BUILD)/asan.log; exit 1; }
	@tail -1 $(C_BUILD)/asan.log | sed 's/^/asan+ubsan: /'

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
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./$(CPP_BUILD)/test_pmr_asan > $(CPP_BUILD)/asan.log || { cat $(CPP_BUILD)/asan.log; exit 1; }
	@tail -1 $(CPP_BUILD)/asan.log | sed 's/^/asan+ubsan: /'

# ---- benchmarks ----------------------------------------------------------

bench-build:
	@if [ -f benches/Makefile ]; then $(MAKE) -C benches build lint; fi

bench:
	$(MAKE) -C benches run

# ---- install -------------------------------------------------------------

LIBDIR := $(DESTDIR)$(PREFIX)/lib
INCDIR := $(DESTDIR)$(PREFIX)/include
PCDIR  := $(LIBDIR)/pkgconfig

install: lib
	install -d $(LIBDIR) $(INCDIR) $(PCDIR)
	install -m 755 $(SO) $(LIBDIR)/libvais_alloc.so.$(VERSION)
	ln -sf libvais_alloc.so.$(VERSION) $(LIBDIR)/libvais_alloc.so.$(MAJOR)
	ln -sf libvais_alloc.so.$(MAJOR) $(LIBDIR)/libvais_alloc.so
	install -m 644 $(STATIC) $(LIBDIR)/libvais_alloc.a
	install -m 644 $(HEADER) $(INCDIR)/vais_alloc.h
	install -m 644 include/vais_alloc.hpp $(INCDIR)/vais_alloc.hpp
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' vais_alloc.pc.in > $(PCDIR)/vais_alloc.pc

# Install into a scratch DESTDIR, build the demo through pkg-config, run it,
# uninstall, and make sure nothing is left behind.
check-install: lib
	@stage=$$(mktemp -d) && \
	$(MAKE) --no-print-directory install DESTDIR=$$stage PREFIX=/usr >/dev/null && \
	flags=$$(PKG_CONFIG_SYSROOT_DIR=$$stage PKG_CONFIG_PATH=$$stage/usr/lib/pkgconfig pkg-config --cflags --libs vais_alloc) && \
	$(CC) $(CSTD) $(CWARN) examples/demo.c $$flags -o $$stage/demo && \
	LD_LIBRARY_PATH=$$stage/usr/lib $$stage/demo > $$stage/demo.out && \
	$(MAKE) --no-print-directory uninstall DESTDIR=$$stage PREFIX=/usr >/dev/null && \
	left=$$(find $$stage/usr -type f -o -type l) && \
	if [ -n "$$left" ]; then echo "check-install: left behind: $$left"; exit 1; fi && \
	rm -rf $$stage && echo "check-install: install, pkg-config link, run, uninstall: ok"

uninstall:
	rm -f $(LIBDIR)/libvais_alloc.so.$(VERSION) $(LIBDIR)/libvais_alloc.so.$(MAJOR) \
		$(LIBDIR)/libvais_alloc.so $(LIBDIR)/libvais_alloc.a \
		$(INCDIR)/vais_alloc.h $(INCDIR)/vais_alloc.hpp $(PCDIR)/vais_alloc.pc

clean:
	$(CARGO) clean
	rm -rf $(C_BUILD) $(CPP_BUILD) examples/build
	@if [ -f benches/Makefile ]; then $(MAKE) -C benches clean; fi
