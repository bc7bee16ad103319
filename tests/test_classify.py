"""Every segment a target sends is named before a check judges it."""

from harness.core.segment import Segment
from harness.tcp.classify import (
    BEYOND_WINDOW,
    FIN,
    NEW_DATA,
    PURE_ACK,
    RETRANSMISSION,
    TAIL_LOSS_PROBE,
    WINDOW_UPDATE,
    ZERO_WINDOW_PROBE,
    classify,
)
from reference_impl.wire.tcp import ACK, CWR, ECE, PSH, SYN
from reference_impl.wire.tcp import FIN as FIN_FLAG


def from_tester(flags=ACK, seq=1, ack=1, window=65535, length=0):
    return Segment(0, True, flags, seq, ack, window, bytes(length))


def from_target(flags=ACK, seq=1, ack=1, window=65535, length=0):
    return Segment(0, False, flags, seq, ack, window, bytes(length))


def names(conversation, **options):
    return [name for _, name in classify(conversation, **options)]


def test_data_then_its_retransmission_from_the_head():
    assert names([from_target(PSH | ACK, 1, length=100), from_target(ACK, 1, length=100)]) == [
        NEW_DATA,
        RETRANSMISSION,
    ]


def test_resending_the_last_segment_while_the_first_is_unacked_is_a_tail_loss_probe():
    flight = [from_target(ACK, 1, length=1460), from_target(PSH | ACK, 1461, length=1460)]
    assert names(
        [*flight, from_target(PSH | ACK, 1461, length=1460), from_target(ACK, 1, length=1460)]
    ) == [
        NEW_DATA,
        NEW_DATA,
        TAIL_LOSS_PROBE,
        RETRANSMISSION,
    ]


def test_after_an_ack_the_head_moves():
    conversation = [
        from_target(ACK, 1, length=100),
        from_target(ACK, 101, length=100),
        from_tester(ACK, ack=101),
        from_target(ACK, 101, length=100),
    ]
    assert names(conversation) == [NEW_DATA, NEW_DATA, RETRANSMISSION]


def test_zero_window_probes_in_both_forms_and_data_beyond_the_window():
    conversation = [
        from_target(PSH | ACK, 1, length=100),
        from_tester(ACK, ack=101, window=0),
        from_target(ACK, 101, length=1),  # one byte at SND.UNA
        from_target(ACK, 100),  # nothing, one below SND.UNA (Linux)
        from_target(PSH | ACK, 101, length=500),  # data into a zero window: not a probe
    ]
    assert names(conversation) == [NEW_DATA, ZERO_WINDOW_PROBE, ZERO_WINDOW_PROBE, BEYOND_WINDOW]


def test_window_scale_applies_after_the_syn():
    conversation = [
        from_target(SYN | ACK, 0),
        from_tester(ACK, ack=1, window=1000),  # x 4 with a shift of 2
        from_target(ACK, 1, length=3000),
        from_target(ACK, 3001, length=1001),
    ]
    assert names(conversation, tester_shift=2) == ["SYN", NEW_DATA, BEYOND_WINDOW]


def test_window_update_fin_and_ack():
    conversation = [
        from_target(ACK, 1, ack=1, window=1000),
        from_target(ACK, 1, ack=1, window=5000),
        from_target(ACK, 1, ack=101, window=5000),
        from_target(FIN_FLAG | ACK, 1, ack=101),
        from_target(FIN_FLAG | ACK, 1, ack=101),
    ]
    assert names(conversation) == [PURE_ACK, WINDOW_UPDATE, PURE_ACK, FIN, RETRANSMISSION]


def test_ecn_flags_do_not_change_what_a_segment_is():
    assert names([from_target(SYN | ECE | CWR, 0), from_target(ACK | ECE, 1, length=10)]) == [
        "SYN",
        NEW_DATA,
    ]
