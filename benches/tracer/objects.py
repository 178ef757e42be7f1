#!/usr/bin/env python3
"""A short Python program that builds and discards many objects: the
second allocation trace of workload 4 (run with PYTHONMALLOC=malloc so that
every object allocation reaches malloc)."""

import json


class Node:
    __slots__ = ("key", "value", "children")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.children = []


def build_tree(depth, fanout, seed):
    root = Node(seed, str(seed) * 3)
    if depth:
        for i in range(fanout):
            root.children.append(build_tree(depth - 1, fanout, seed * fanout + i))
    return root


def walk(node):
    total = len(node.value)
    for c in node.children:
        total += walk(c)
    return total


def main():
    checksum = 0
    for round_ in range(1):
        tree = build_tree(7, 4, round_)
        checksum += walk(tree)
        del tree
        words = {f"w{i}_{round_}": list(range(i % 17)) for i in range(20000)}
        text = json.dumps(words)
        back = json.loads(text)
        checksum += len(back) + len(text)
        del words, back, text
        rows = [(i, str(i), float(i) / 3.0, {"k": i}) for i in range(30000)]
        rows.sort(key=lambda r: r[1])
        checksum += sum(r[0] for r in rows[:100])
        del rows
        s = []
        for i in range(20000):
            s.append("x" * (i % 300))
        checksum += len("".join(s))
    print("objects.py checksum", checksum)


main()
