"""Prints the closing line of `make check`: the tests run, added up from the
cargo test log ("test result: ok. N passed; M failed; ...") and the C and
C++ suites' logs ("N passed, M failed", optionally behind one word and a
colon, as in "cpp: N passed, M failed")."""
import re
import sys

passed = failed = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            rust = re.match(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
            c = re.fullmatch(r"(?:\w+: )?(\d+) passed, (\d+) failed\s*", line)
            match = rust or c
            if match:
                passed += int(match.group(1))
                failed += int(match.group(2))
print(f"check: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
