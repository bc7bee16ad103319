"""Benchmark: goodput over the veth, reference <-> kernel, beside kernel <-> kernel measured
in the same run on the same kind of topology. Needs root (namespaces).

    .venv/bin/python bench/goodput.py [--megabytes 20]

Bars (issue 17): the reference at 14 % (to the kernel) and 10 % (from it) of the kernel's
own goodput, all three measured in the same run; medians of --runs rounds.
"""

from __future__ import annotations

import argparse
import statistics

from harness.tcp.interop import kernel_and_kernel, reference_and_kernel, transfer

BARS = {"ref -> kernel": 0.14, "kernel -> ref": 0.10}  # shares of kernel -> kernel (issue 17)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are printed")
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    rates: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for direction, rate in one_round(size):
            rates.setdefault(direction, []).append(rate)
    baseline = statistics.median(rates.pop("kernel -> kernel"))
    print(f"{'kernel -> kernel (baseline)':<28} {baseline:8.1f} MB/s   (median of {args.runs})")
    for direction, values in rates.items():
        rate = statistics.median(values)
        share = rate / baseline
        print(
            f"{direction:<28} {rate:8.1f} MB/s   {share:6.1%} of the kernel"
            f"   (bar >= {BARS[direction]:.0%}; rounds: {', '.join(f'{v:.1f}' for v in values)})"
        )


def one_round(size: int) -> list[tuple[str, float]]:
    """Kernel to kernel, then the reference to the kernel and back, over the same kind of
    topology, one after the other (so that a busy machine weighs on all three alike)."""
    with kernel_and_kernel() as pair:
        rows = [("kernel -> kernel", transfer(pair, pair.kernel, pair.ref, size))]
    with reference_and_kernel() as pair:
        rows.append(("ref -> kernel", transfer(pair, pair.ref, pair.kernel, size)))
        rows.append(("kernel -> ref", transfer(pair, pair.kernel, pair.ref, size)))
    for direction, row in rows:
        assert row.intact, f"{direction}: the data arrived damaged"
    return [(direction, row.megabytes_per_s) for direction, row in rows]


if __name__ == "__main__":
    main()
