"""Compiles and runs every C and C++ snippet of README.md (`make check`,
target readme-snippets), so that the README cannot show code that no longer
builds.

Each ```c block must be a whole program: it is built as C99, as C11 (both
-pedantic) and as C++17, and each build is run. Each ```cpp block is built
as C++17 and run. Warnings are errors. A snippet whose program exits with a
non-zero status fails.

Usage: readme_snippets.py README.md BUILD_DIR -- LINK_FLAGS...
Prints a line per failure and, last, "readme: N passed, M failed".
"""

import os
import re
import subprocess
import sys

WARN = ["-Wall", "-Wextra", "-Werror"]
CC = os.environ.get("CC", "cc")
CXX = os.environ.get("CXX", "g++")
BUILDS = {
    "c": [
        ("C99", [CC, "-std=c99", "-pedantic", "-x", "c"]),
        ("C11", [CC, "-std=c11", "-pedantic", "-x", "c"]),
        ("C++17", [CXX, "-std=c++17", "-x", "c++"]),
    ],
    "cpp": [("C++17", [CXX, "-std=c++17", "-x", "c++"])],
}


def snippets(text):
    """(language, first line number, code) of every c / cpp fenced block."""
    for match in re.finditer(r"^```(c|cpp)\n(.*?)^```", text, re.M | re.S):
        line = text.count("\n", 0, match.start()) + 2
        yield match.group(1), line, match.group(2)


def main(argv):
    readme, build = argv[0], argv[1]
    link = argv[3:] if len(argv) > 2 and argv[2] == "--" else []
    os.makedirs(build, exist_ok=True)
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    passed = failed = 0
    for number, (language, line, code) in enumerate(snippets(text)):
        source = os.path.join(build, f"readme_{number}.{language}")
        with open(source, "w", encoding="utf-8") as f:
            f.write(f'#line {line} "{readme}"\n{code}')
        if not re.search(r"\bint\s+main\s*\(", code):
            print(f"readme: {readme}:{line}: the {language} snippet is not a whole program (no main)")
            failed += 1
            continue
        for name, compiler in BUILDS[language]:
            binary = os.path.join(build, f"readme_{number}_{name.replace('+', 'p')}")
            built = subprocess.run(
                compiler + WARN + ["-Iinclude", source, "-o", binary, "-x", "none"] + link,
                capture_output=True,
                text=True,
            )
            if built.returncode != 0:
                print(f"readme: {readme}:{line}: the {language} snippet does not build as {name}:")
                print(built.stderr.strip())
                failed += 1
                continue
            ran = subprocess.run([binary], capture_output=True, text=True)
            if ran.returncode != 0:
                print(f"readme: {readme}:{line}: the {language} snippet built as {name} exits with {ran.returncode}:")
                print((ran.stdout + ran.stderr).strip())
                failed += 1
                continue
            passed += 1
    print(f"readme: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
