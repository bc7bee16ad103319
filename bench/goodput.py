"""Benchmark: goodput over the veth, reference <-> kernel, beside kernel <-> kernel measured
in the same run on the same kind of topology. Needs root (namespaces).

    .venv/bin/python bench/goodput.py [--megabytes 20]

Target for the reference: at least 20 MB/s in each direction on this machine.
"""

from __future__ import annotations

import argparse

from harness.tcp.interop import kernel_and_kernel, reference_and_kernel, transfer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=20)
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    with kernel_and_kernel() as pair:
        baseline = transfer(pair, pair.kernel, pair.ref, size)
    with reference_and_kernel() as pair:
        rows = [
            transfer(pair, pair.ref, pair.kernel, size),
            transfer(pair, pair.kernel, pair.ref, size),
        ]
    print(f"{'kernel -> kernel (baseline)':<28} {baseline.megabytes_per_s:8.1f} MB/s")
    for row in rows:
        assert row.intact, f"{row.direction}: the data arrived damaged"
        ratio = row.megabytes_per_s / baseline.megabytes_per_s
        print(
            f"{row.direction:<28} {row.megabytes_per_s:8.1f} MB/s   {ratio:6.1%} of the kernel"
            "   (target >= 20 MB/s)"
        )


if __name__ == "__main__":
    main()
