"""Malformed frames from a target are shown as MALFORMED everywhere and FAIL the test, and the
target namespace's bridge no longer drops them (bridge netfilter off)."""

import json
import sys
from pathlib import Path

import pytest

from harness.core.frames import decode_frame
from harness.core.link import Frame
from harness.report.packets import packet_list
from tests.stacks.malform import BREAKS, malform

REPO = Path(__file__).resolve().parent.parent
QUIRKY = REPO / "tests" / "stacks" / "quirky.py"


def syn_ack() -> bytes:
    """A well-formed SYN-ACK with MSS and SACK-permitted, built by the reference codec."""
    from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
    from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
    from reference_impl.wire.tcp import ACK, SYN, Mss, SackPermitted, TcpSegment

    src, dst = "198.18.0.2", "198.18.0.1"
    seg = TcpSegment(
        20000, 40000, 5000, 1001, SYN | ACK, 65535, options=(Mss(1460), SackPermitted())
    )
    packet = IPv4(src, dst, PROTO_TCP, seg.emit(src, dst))
    return Ethernet("02:00:00:00:00:01", "02:00:00:00:00:02", ETH_P_IP, packet.emit()).emit()


GOOD = syn_ack()


def test_the_good_frame_is_good():
    assert decode_frame(GOOD).problem is None and decode_frame(GOOD).tcp is not None


@pytest.mark.parametrize("kind", sorted(BREAKS))
def test_each_break_is_named_in_the_decode_and_the_packet_list(kind):
    field = BREAKS[kind][1]
    decoded = decode_frame(malform(GOOD, kind))
    assert decoded.problem is not None and decoded.problem.startswith(field), decoded.problem
    listing = packet_list([Frame(0, malform(GOOD, kind), False)])
    assert f"MALFORMED ({field}" in listing and "[SA]" not in listing


@pytest.mark.needs_root
@pytest.mark.parametrize("kind", sorted(BREAKS))
def test_a_malformed_syn_ack_reaches_the_tester_and_fails_the_test(pytester, kind):
    out = pytester.path / "verdicts.json"
    target = (
        f"broken=cmd:{sys.executable} {QUIRKY} --quirk malformed={kind} --tap {{tap}} "
        "--ip {ip}/{prefix} --mac {mac} --neighbor {tester_ip}={tester_mac}"
    )
    pytester.runpytest_subprocess(
        f"{REPO}/suites/tcp/test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
        f"--target={target}",
        f"--verdicts={out}",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    (row,) = json.loads(out.read_text())
    assert row["verdict"] == "FAIL", row
    assert f"MALFORMED ({BREAKS[kind][1]}" in row["message"], row["message"]
