"""The reference and the kernel move 20 MB each way, over a clean link and through the relay
with loss, reordering and duplication; the SHA-256 of what arrived matches what was sent."""

import json

import pytest

from harness.core.impair import Impairment
from harness.tcp.interop import reference_and_kernel, transfer

pytestmark = pytest.mark.needs_root
SIZE = 20_000_000
ROUGH = Impairment(loss=0.02, reorder=0.01, reorder_ms=2.0, duplicate=0.01)


def test_reference_and_kernel_exchange_20mb_intact_on_a_clean_link():
    with reference_and_kernel() as pair:
        for sender, receiver in ((pair.ref, pair.kernel), (pair.kernel, pair.ref)):
            result = transfer(pair, sender, receiver, SIZE)
            assert result.intact, f"{result.direction}: {result.received} bytes, sha256 differs"


def test_reference_and_kernel_exchange_20mb_intact_through_a_lossy_relay():
    with reference_and_kernel(relay={"a>b": ROUGH, "b>a": ROUGH}, seed=11) as pair:
        for sender, receiver in ((pair.ref, pair.kernel), (pair.kernel, pair.ref)):
            result = transfer(pair, sender, receiver, SIZE, timeout=240)
            assert result.intact, f"{result.direction}: {result.received} bytes, sha256 differs"
            actions = {json.loads(line)["action"] for line in result.relay_log}
            assert {"drop", "reorder", "duplicate"} <= actions  # the relay really interfered
