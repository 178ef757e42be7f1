"""Runs the cases of c_tests/tools/misuse.c under the memory tools and
checks that each tool catches each bug in our allocators' memory.

    memory_tool_tests.py PLAIN_BINARY ASAN_BINARY

For every case but "correct", a run under Valgrind passes when Memcheck
reports the bug (an invalid read or write, or a definite leak) and the run
exits with Valgrind's error code; a run of the ASan build passes when
AddressSanitizer reports it. "correct" passes when both stay silent. The
last line is "N passed, M failed"; without Valgrind its runs are skipped
with a message (the ASan runs still count).
"""

import os
import shutil
import subprocess
import sys

VALGRIND_ERROR = 99
VALGRIND_REPORTS = ("Invalid read", "Invalid write", "definitely lost")


def cases(binary):
    out = subprocess.run([binary, "--list"], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def first_line(text, needles):
    for line in text.splitlines():
        if any(needle in line for needle in needles):
            return line.split("== ", 1)[-1].strip()
    return None


def under_valgrind(binary, case):
    command = [
        "valgrind",
        f"--error-exitcode={VALGRIND_ERROR}",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        binary,
        case,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    report = first_line(run.stderr, VALGRIND_REPORTS)
    if case.endswith("-leak") and report is not None:
        # The leak must be the block, allocated by the family's alloc.
        family = case.split("-")[0]
        stack = run.stderr.split("definitely lost", 1)[1].split("\n\n", 1)[0]
        if f"{family}_alloc" not in stack:
            report = None
    if case == "correct":
        return run.returncode == 0 and report is None, report or "silent", run
    return run.returncode == VALGRIND_ERROR and report is not None, report or "silent", run


def under_asan(binary, case):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:halt_on_error=1")
    run = subprocess.run([binary, case], capture_output=True, text=True, env=env, timeout=300)
    report = first_line(run.stderr, ("ERROR: AddressSanitizer",))
    if report:
        report = report.split("ERROR: ", 1)[-1].split(" on address")[0]
    if case == "correct":
        return run.returncode == 0 and report is None, report or "silent", run
    return run.returncode != 0 and report is not None, report or "silent", run


def misuse_env(binary):
    """The default misuse handler under each VAIS_ALLOC_MISUSE setting, on a
    double free: silent when unset, one line on stderr with `log`, the
    line and SIGABRT with `abort`."""
    results = []
    line_start = "vais_alloc: pool_dealloc: the block at 0x"
    for setting in ("", "log", "abort"):
        env = dict(os.environ)
        env.pop("VAIS_ALLOC_MISUSE", None)
        if setting:
            env["VAIS_ALLOC_MISUSE"] = setting
        run = subprocess.run([binary, "double-free"], capture_output=True, text=True, env=env)
        said = [line for line in run.stderr.splitlines() if line.startswith("vais_alloc:")]
        if setting == "":
            ok = run.returncode == 0 and not said and "returned -7" in run.stdout
        elif setting == "log":
            ok = run.returncode == 0 and len(said) == 1 and said[0].startswith(line_start)
            ok = ok and "returned -7" in run.stdout
        else:
            ok = run.returncode == -6 and len(said) == 1 and said[0].startswith(line_start)
        shown = said[0] if said else f"(silent, exit {run.returncode})"
        results.append((setting or "unset", ok, shown))
    return results


def leaks_env(binary):
    """The leak report: with VAIS_ALLOC_LEAKS=1, one line per pool or free
    list freed or dropped with blocks live (none for the arena); without
    it, nothing."""
    results = []
    for setting in ("", "1"):
        env = dict(os.environ)
        env.pop("VAIS_ALLOC_LEAKS", None)
        if setting:
            env["VAIS_ALLOC_LEAKS"] = setting
        run = subprocess.run([binary, "leak-report"], capture_output=True, text=True, env=env)
        said = [line for line in run.stderr.splitlines() if line.startswith("vais_alloc:")]
        done = run.returncode == 0 and "leak-report: done" in run.stdout
        if setting:
            ok = done and len(said) == 2
            ok = ok and said[0].startswith("vais_alloc: pool_free: 2 block(s), 64 bytes, still live (leaked): 0x")
            ok = ok and said[1].startswith("vais_alloc: freelist_drop: 1 block(s), 104 bytes, still live")
        else:
            ok = done and not said
        shown = " | ".join(said) if said else f"(silent, exit {run.returncode})"
        results.append((setting or "unset", ok, shown))
    return results


def main():
    plain, asan = sys.argv[1], sys.argv[2]
    have_valgrind = shutil.which("valgrind") is not None
    if not have_valgrind:
        print("valgrind: not found, its runs are skipped (install valgrind to run them)")
    passed = failed = 0
    for case, tools in cases(plain):
        if tools == "none":
            continue
        runs = []
        if have_valgrind:
            runs.append(("valgrind", under_valgrind, plain))
        if tools == "both":
            runs.append(("asan", under_asan, asan))
        for tool, run_under, binary in runs:
            ok, report, run = run_under(binary, case)
            print(f"{'ok  ' if ok else 'FAIL'} {tool:8} {case:28} {report}")
            if ok:
                passed += 1
            else:
                failed += 1
                sys.stdout.write(run.stdout)
                sys.stdout.write(run.stderr[-3000:])
    for setting, ok, shown in misuse_env(plain):
        print(f"{'ok  ' if ok else 'FAIL'} VAIS_ALLOC_MISUSE={setting:6} double-free          {shown}")
        passed, failed = passed + ok, failed + (not ok)
    for setting, ok, shown in leaks_env(plain):
        print(f"{'ok  ' if ok else 'FAIL'} VAIS_ALLOC_LEAKS={setting:6} leak-report           {shown}")
        passed, failed = passed + ok, failed + (not ok)
    print(f"memory tools: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
