"""The impairment relay: deterministic by seed, every rule does what it says, and the relay
really sits on the wire between tester and target."""

import json

import pytest

from harness.core.impair import A_TO_B, B_TO_A, Impairer, Impairment, rules_from_json, rules_to_json
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import ACK, TcpSegment, tcp_checksum_ok


def frame(payload: bytes = b"x" * 100, seq: int = 1) -> bytes:
    seg = TcpSegment(1, 2, seq, 0, ACK, 100, payload).emit("198.18.0.1", "198.18.0.2")
    packet = IPv4("198.18.0.1", "198.18.0.2", PROTO_TCP, seg).emit()
    return Ethernet("02:00:00:00:00:02", "02:00:00:00:00:01", ETH_P_IP, packet).emit()


def actions(seed, rule, n=2000):
    impairer = Impairer(seed, {A_TO_B: rule})
    return [impairer.decide(frame(), A_TO_B).action for _ in range(n)]


def test_same_seed_same_decisions_other_seed_other_decisions():
    rule = Impairment(loss=0.1, duplicate=0.1, reorder=0.1, corrupt=0.1)
    assert actions(5, rule) == actions(5, rule)
    assert actions(5, rule) != actions(6, rule)


@pytest.mark.parametrize("name", ["loss", "duplicate", "reorder", "corrupt"])
def test_each_probability_is_roughly_honoured(name):
    seen = actions(1, Impairment(**{name: 0.2}))
    word = {"loss": "drop", "duplicate": "duplicate", "reorder": "reorder", "corrupt": "corrupt"}[
        name
    ]
    share = sum(word in a for a in seen) / len(seen)
    assert 0.16 < share < 0.24


def test_rules_apply_per_direction_only():
    impairer = Impairer(1, {A_TO_B: Impairment(loss=1.0)})
    assert impairer.decide(frame(), A_TO_B).action == "drop"
    assert impairer.decide(frame(), B_TO_A).action == "pass"


def test_drop_tcp_rule_drops_exactly_the_named_data_segments():
    impairer = Impairer(1, {A_TO_B: Impairment(drop_tcp=(2, 4))})
    got = [impairer.decide(frame(seq=i), A_TO_B).action for i in range(5)]
    assert got == ["pass", "drop (rule)", "pass", "drop (rule)", "pass"]


def test_duplicate_gives_two_copies_and_reorder_delays():
    dup = Impairer(1, {A_TO_B: Impairment(duplicate=1.0)}).decide(frame(), A_TO_B)
    assert len(dup.copies) == 2
    late = Impairer(1, {A_TO_B: Impairment(reorder=1.0, reorder_ms=7)}).decide(frame(), A_TO_B)
    assert late.copies[0][0] == pytest.approx(0.007)


def test_corruption_breaks_the_tcp_checksum_not_the_headers():
    decision = Impairer(1, {A_TO_B: Impairment(corrupt=1.0)}).decide(frame(), A_TO_B)
    damaged = decision.copies[0][1]
    packet = IPv4.parse(Ethernet.parse(damaged).payload)
    assert packet.header_checksum_ok
    assert not tcp_checksum_ok(packet.src, packet.dst, packet.payload)


def test_rules_round_trip_through_json_and_refuse_bad_directions():
    rules = {A_TO_B: Impairment(loss=0.5, drop_tcp=(3,)), B_TO_A: Impairment(delay_ms=2)}
    assert rules_from_json(rules_to_json(rules)) == rules
    with pytest.raises(ValueError, match="direction"):
        rules_from_json(json.dumps({"sideways": {}}))


@pytest.mark.needs_root
def test_relay_on_the_wire_drops_and_logs_the_named_segment():
    """Through the relay the kernel never sees our second data segment: it acks only the
    first, and the relay's log names the segment it dropped."""
    from harness.core.impair import RelayProcess
    from harness.hosts.bed import TestBed
    from harness.tcp.case import TcpCase

    bed = TestBed("linux", relay={A_TO_B: Impairment(drop_tcp=(2,))})
    try:
        case = TcpCase(bed)
        peer = case.connect_to_target().peer
        peer.send(b"a" * 100)
        peer.expect(flags=ACK, ack=101, within=1.0)
        peer.send(b"b" * 100)
        peer.expect_silence(0.3, what="the second segment was dropped by the relay")
        case.finish()
        assert isinstance(bed.relay, RelayProcess)
        log = [json.loads(line) for line in bed.relay.log_lines()]
        assert [entry["action"] for entry in log] == ["drop (rule)"]
        assert "seq=" in log[0]["frame"] and "len=100" in log[0]["frame"]
    finally:
        bed.close()


def test_ack_loss_drops_pure_acks_only_and_spares_each_connections_first():
    impairer = Impairer(3, {A_TO_B: Impairment(ack_loss=1.0)})
    first, second = frame(b"", seq=1), frame(b"", seq=1)
    assert impairer.decide(first, A_TO_B).action == "pass"  # the handshake's ACK
    assert impairer.decide(second, A_TO_B).action == "drop (ACK)"
    assert impairer.decide(frame(b"data"), A_TO_B).action == "pass"  # data is not an ACK
