"""The close check under every stress scenario (harness.tcp.stream), without a network:
reassembly from relative sequence number 1, and what each kind of loss is called."""

import pytest

from harness.core.errors import ConformanceFailure
from harness.core.segment import Segment
from harness.tcp.stream import Received, _in_order, check_stream
from reference_impl.wire.tcp import ACK, FIN

WRITTEN = bytes(range(256)) * 4


def fin_at(seq: int) -> Segment:
    return Segment(0, False, FIN | ACK, seq, 1, 65535, b"")


def test_reassembly_takes_overlaps_and_retransmissions_and_stops_at_a_hole():
    chunks = {1: b"abc", 3: b"cdef", 7: b"g", 20: b"late"}
    assert _in_order(chunks) == b"abcdefg"


def test_a_complete_stream_with_its_fin_passes():
    check_stream(Received(WRITTEN, fin_at(1 + len(WRITTEN))), WRITTEN)


@pytest.mark.parametrize(
    ("got", "complaint"),
    [
        (Received(WRITTEN, None), "no FIN followed"),
        (Received(WRITTEN[:100], None), "100 of the 1024 bytes written before the close arrived"),
        (Received(WRITTEN[:99] + b"X" + WRITTEN[100:], fin_at(1025)), "they differ from byte 99"),
        (Received(WRITTEN + b"extra", fin_at(1030)), "more bytes than written"),
    ],
)
def test_each_loss_fails_with_what_was_lost(got, complaint):
    with pytest.raises(ConformanceFailure, match=complaint):
        check_stream(got, WRITTEN)
