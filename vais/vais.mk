# vais/vais.mk - the Vais tests, included by the top Makefile.
#
#   make check-vais VAISC=<path to vaisc>   build and run every Vais test
#                                           (fails if there is no compiler)
#   make vais-tests                         the same when a vaisc is found
#                                           (VAISC, else `vaisc` on PATH),
#                                           else one "skipped" line; for
#                                           `make check`
#
# Both leave target/check-logs/vais.log, whose last line is
# `vais: N passed, M failed` or `vais: skipped: no vaisc`.
# The compiler: vaisc at commit 82bd782 of github.com/vaislang/vais, built
# as vais/README.md says. The tests need clang to link (apt-get install clang).

VAIS_VAISC   := $(or $(VAISC),$(shell command -v vaisc 2>/dev/null))
VAIS_LOG_DIR := target/check-logs
VAIS_LOG     := $(VAIS_LOG_DIR)/vais.log

.PHONY: check-vais vais-tests vais-need-vaisc vais-skip

check-vais: vais-need-vaisc lib
	@mkdir -p $(VAIS_LOG_DIR)
	@VAISC='$(VAIS_VAISC)' vais/run_tests.sh 2>&1 | tee $(VAIS_LOG); exit $${PIPESTATUS[0]}

vais-need-vaisc:
	@if [ -z '$(VAIS_VAISC)' ]; then \
		mkdir -p $(VAIS_LOG_DIR); \
		echo "vais: skipped: no vaisc" > $(VAIS_LOG); \
		echo "check-vais: no Vais compiler: set VAISC=<path to vaisc> or put vaisc on PATH (vais/README.md says how to build it)" >&2; \
		exit 1; \
	fi

vais-tests: $(if $(VAIS_VAISC),check-vais,vais-skip)

vais-skip:
	@mkdir -p $(VAIS_LOG_DIR)
	@echo "vais: skipped: no vaisc" > $(VAIS_LOG)
	@echo "vais: skipped: no vaisc (set VAISC=<path> to run the Vais tests)"
