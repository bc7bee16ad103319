"""Bulk data each way: every byte arrives, once and in order (RFC 9293 3.10.7.4), and the
goodput is measured (a figure for the report, not a requirement)."""

import pytest

from harness.core.errors import ConformanceFailure, ScenarioNotReached
from harness.tcp import bulk

SIZE = 1 << 20
LIMIT_S = 60.0  # 1 MiB in a minute: generous for a userspace stack in Python


@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
@pytest.mark.parametrize("direction", ["to-target", "from-target"])
def test_bulk_data_arrives_intact(tcp, direction):
    """1 MiB on one connection; SHA-256 of what the receiving application read."""
    result = bulk.transfer(tcp, direction, SIZE, LIMIT_S)
    tcp.record(
        "goodput",
        f"{result.megabytes_per_s:.2f} MB/s ({result.moved} of {SIZE} bytes in "
        f"{result.seconds:.2f} s, {direction})",
    )
    if not result.complete:
        raise ScenarioNotReached(
            f"{SIZE} bytes {direction}",
            f"only {result.moved} bytes reached the application within {LIMIT_S:.0f} s",
        )
    if not result.intact:
        raise ConformanceFailure(
            f"{result.moved} bytes arrived but they are not the bytes sent: SHA-256 "
            f"{result.received_sha256} instead of {result.sent_sha256}"
        )
