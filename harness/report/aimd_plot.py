"""The AIMD demonstration's picture: throughput of both flows against the fair share, and
their congestion windows."""

from __future__ import annotations

from harness.report.plot import Series, line_chart, stack
from reference_impl.aimd import AimdRun


def aimd_svg(run: AimdRun) -> str:
    t = run.times_s
    fair = [run.bottleneck_bps / 2e6] * len(t)
    throughput = line_chart(
        [
            Series("flow 1", t, [v / 1e6 for v in run.throughput_bps[0]]),
            Series("flow 2", t, [v / 1e6 for v in run.throughput_bps[1]]),
            Series("fair share", t, fair, dashed=True),
        ],
        title="Two reference TCP flows on one bottleneck: throughput converges to the fair share",
        xlabel="time (s)",
        ylabel="throughput (Mbit/s)",
    )
    cwnd = line_chart(
        [
            Series("flow 1 cwnd", t, [c / 1460 for c in run.cwnd[0]]),
            Series("flow 2 cwnd", t, [c / 1460 for c in run.cwnd[1]]),
        ],
        title="Congestion windows: additive increase, multiplicative decrease (RFC 5681)",
        xlabel="time (s)",
        ylabel="cwnd (segments)",
    )
    return stack([throughput, cwnd])
