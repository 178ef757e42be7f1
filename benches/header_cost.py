#!/usr/bin/env python3
"""How much of a trace's footprint the block headers alone cost.

Replays the malloc/free/realloc records of benches/tracer traces (32-byte
records: op | align << 8, size, in, out) without any allocator: at the
moment of peak live bytes, it sums the block sizes each allocator must use
for the live requests, with no fragmentation at all:

  libvais_alloc  size + 8 (header word 1; word 0 is the previous block's
                 last payload word while that block is in use), rounded up
                 to 16, at least 32
  glibc          size + 8 (its size word; the previous chunk's last word is
                 shared), rounded up to 16, at least 32
  16-byte        size + 16 (a header no payload overlaps, as this library
                 had before it shared word 0), rounded up to 16, at least 32

Their ratio to the peak live bytes is the footprint/peak-live a perfect
placement would reach, so (measured - this) is external fragmentation.

  python3 benches/header_cost.py benches/build/traces/gcc benches/build/traces/python3

A directory stands for its largest trace (the one `make bench` replays).
"""
import os
import struct
import sys


def block_ours(size):
    return max(32, (size + 8 + 15) & ~15)


def block_glibc(size):
    return max(32, (size + 8 + 15) & ~15)


def block_unshared(size):
    return max(32, (size + 16 + 15) & ~15)


def replay(path):
    data = open(path, "rb").read()
    live = {}
    cur = ours = glibc = unshared = 0
    peak = peak_ours = peak_glibc = peak_unshared = 0
    for i in range(0, len(data) - 31, 32):
        op, size, inp, out = struct.unpack_from("<QQQQ", data, i)
        kind = op & 0xFF
        if kind in (2, 4) and inp in live:  # free, or the old block of a realloc
            s = live.pop(inp)
            cur, ours, glibc = cur - s, ours - block_ours(s), glibc - block_glibc(s)
            unshared -= block_unshared(s)
        if kind in (1, 3, 4, 5) and out != 0 and not (kind == 4 and size == 0):
            if out in live:  # an address reused without a free we saw
                s = live.pop(out)
                cur, ours, glibc = cur - s, ours - block_ours(s), glibc - block_glibc(s)
                unshared -= block_unshared(s)
            live[out] = size
            cur, ours, glibc = cur + size, ours + block_ours(size), glibc + block_glibc(size)
            unshared += block_unshared(size)
        if cur > peak:
            peak, peak_ours, peak_glibc, peak_unshared = cur, ours, glibc, unshared
    return peak, peak_ours, peak_glibc, peak_unshared


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip())
        return 2
    print("trace                                 peak live MiB   ours/live  glibc/live  16-byte/live")
    for path in sys.argv[1:]:
        if os.path.isdir(path):
            traces = [os.path.join(path, f) for f in os.listdir(path) if f.endswith(".trace")]
            path = max(traces, key=os.path.getsize)
        peak, o, g, u = replay(path)
        if peak:
            print(f"{path:<38} {peak / 2**20:>12.2f} {o / peak:>10.3f} {g / peak:>10.3f} {u / peak:>13.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
