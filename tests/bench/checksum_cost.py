#!/usr/bin/env python3
"""CPU cost of each checksum s3tui can send, in CPU-seconds per GiB hashed (run by hand).

    python tests/bench/checksum_cost.py [--gib 2] [--reps 3]

Each algorithm hashes the same 64 MiB of incompressible bytes in memory, 16 times per GiB, in
1 MiB slices as the uploads feed it; the CPU time of this process (user + sys) is measured, the
median of the reps kept. The engine's own entry points are used (s3tui.engine.checksums), so
what is measured is what an upload pays, plus rows for the same CRCs from other libraries.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import time
import zlib
from collections.abc import Callable

BLOCK = 1024 * 1024
BUFFER = 64 * BLOCK


def _rows() -> list[tuple[str, Callable[[memoryview], object]]]:
    from awscrt import checksums as crt

    from s3tui.engine.checksums import CRC32C, CRC64NVME, MD5, SHA256

    def feed(fn: Callable[[memoryview, int], int]) -> Callable[[memoryview], int]:
        def run(buf: memoryview) -> int:
            value = 0
            for i in range(0, len(buf), BLOCK):
                value = fn(buf[i : i + BLOCK], value)
            return value

        return run

    def hashed(algorithm: object) -> Callable[[memoryview], int]:
        def run(buf: memoryview) -> int:
            h = algorithm.hasher()  # type: ignore[attr-defined]
            for i in range(0, len(buf), BLOCK):
                h.update(buf[i : i + BLOCK])
            return h.value()

        return run

    return [
        ("crc32c (crc32c package, s3tui's)", hashed(CRC32C)),
        ("crc64nvme (awscrt, s3tui's)", hashed(CRC64NVME)),
        ("crc32c (awscrt)", feed(crt.crc32c)),
        ("crc32 (awscrt)", feed(crt.crc32)),
        ("crc32 (zlib)", feed(zlib.crc32)),
        ("sha256 (hashlib, OpenSSL)", hashed(SHA256)),
        ("md5 (hashlib, OpenSSL)", hashed(MD5)),
        ("sha1 (hashlib, for scale)", lambda buf: hashlib.sha1(buf).digest()),
    ]


def measure(gib: float = 1.0, reps: int = 3) -> list[tuple[str, float]]:
    """``[(name, CPU-s per GiB), ...]``."""
    buf = memoryview(os.urandom(BUFFER))
    rounds = max(1, round(gib * 1024**3 / BUFFER))
    out = []
    for name, fn in _rows():
        fn(buf[:BLOCK])  # load and warm up
        costs = []
        for _ in range(reps):
            t0 = time.process_time()
            for _ in range(rounds):
                fn(buf)
            costs.append((time.process_time() - t0) / (rounds * BUFFER / 1024**3))
        out.append((name, statistics.median(costs)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gib", type=float, default=1.0, help="GiB hashed per rep (default 1)")
    p.add_argument("--reps", type=int, default=3)
    args = p.parse_args()
    print("| checksum | CPU-s/GiB |\n|---|---:|")
    for name, cost in measure(args.gib, args.reps):
        print(f"| {name} | {cost:.3f} |")


if __name__ == "__main__":
    main()
