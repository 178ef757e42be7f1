"""Prints the summary of `make check`: one line per suite with its passed and
failed counts, then the total.

Arguments are LABEL=LOG pairs. A LABEL of `cargo` reads a `cargo test` log
and makes three suites of it, by the section each "test result" line closes
(unit tests of the library, integration/property tests under tests/, doc
tests). Any other log is read for its last line of the form "N passed, M
failed" (optionally behind a word and a colon, as in "asan+ubsan: 146 passed,
0 failed"), "abi: ... N checks passed", or "...: skipped: REASON", which
prints the reason and counts nothing. A missing log, or one with none of
these lines, is a failed suite.
"""

import re
import sys

COUNTS = re.compile(r"(?:[\w+ -]+: )?(\d+) passed, (\d+) failed\s*")
ABI = re.compile(r"abi: (?:.*, )?(\d+) checks passed")
SKIPPED = re.compile(r"(?:[\w+ -]+: )?skipped: (.*)")


def cargo_suites(lines):
    """(unit, integration/property, doc) counts from a cargo test log."""
    suites = {"Rust unit": [0, 0], "Rust integration/property": [0, 0], "Rust doc": [0, 0]}
    section = None
    for line in lines:
        running = re.match(r"\s*Running (\S+)", line)
        if running:
            path = running.group(1)
            section = "Rust unit" if path.startswith("unittests") else "Rust integration/property"
        elif re.match(r"\s*Doc-tests ", line):
            section = "Rust doc"
        result = re.match(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
        if result and section:
            suites[section][0] += int(result.group(1))
            suites[section][1] += int(result.group(2))
    return [(name, tuple(counts), None) for name, counts in suites.items()]


def other_suite(label, lines):
    """(label, (passed, failed), note) from a log's last summary line."""
    for line in reversed(lines):
        line = line.strip()
        counts = COUNTS.fullmatch(line)
        if counts:
            return label, (int(counts.group(1)), int(counts.group(2))), None
        abi = ABI.match(line)
        if abi:
            return label, (int(abi.group(1)), 0), None
        if line.startswith("abi: FAILED"):
            return label, (0, 1), line
        skipped = SKIPPED.fullmatch(line)
        if skipped:
            return label, None, "skipped: " + skipped.group(1)
    return label, (0, 1), "no result line in the log"


def main(pairs):
    rows = []
    for pair in pairs:
        label, _, path = pair.partition("=")
        try:
            with open(path, encoding="utf-8", errors="replace") as log:
                lines = log.readlines()
        except OSError as error:
            rows.append((label, (0, 1), f"log missing: {error.strerror}"))
            continue
        if label == "cargo":
            rows.extend(cargo_suites(lines))
        else:
            rows.append(other_suite(label, lines))

    width = max(len(label) for label, _, _ in rows)
    passed = failed = 0
    print("\ncheck summary:")
    for label, counts, note in rows:
        if counts is None:
            print(f"  {label:<{width}}  {note}")
            continue
        passed += counts[0]
        failed += counts[1]
        text = f"{counts[0]} passed, {counts[1]} failed"
        print(f"  {label:<{width}}  {text}" + (f"  ({note})" if note else ""))
    print(f"check: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
