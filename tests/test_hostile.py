"""Stacks written to misbehave get an ERROR that says what happened, the harness stays bounded,
and the run goes on (garbage, silence and exits at start: tests/test_cmd_target.py)."""

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
QUIRKY = REPO / "tests" / "stacks" / "quirky.py"
THIRTEEN = [
    f"{REPO}/suites/tcp/test_acknowledgement.py",  # twelve tests
    f"{REPO}/suites/tcp/test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
]


def run(pytester, quirk, *args):
    out = pytester.path / "verdicts.json"
    target = (
        f"hostile=cmd:{sys.executable} {QUIRKY} --quirk {quirk} --tap {{tap}} "
        "--ip {ip}/{prefix} --mac {mac} --neighbor {tester_ip}={tester_mac}"
    )
    pytester.runpytest_subprocess(
        *args,
        f"--target={target}",
        f"--verdicts={out}",
        f"--pcap-dir={pytester.path / 'pcaps'}",
        "-p",
        "no:cacheprovider",
        timeout=300,
    )
    return json.loads(out.read_text())


def test_a_flooding_stack_is_an_error_in_every_test_with_bounded_evidence(pytester):
    rows = run(pytester, "flood", *THIRTEEN)
    assert len(rows) == 13
    assert {row["verdict"] for row in rows} == {"ERROR"}, rows
    assert all(row["message"].startswith("flood: the target sent about") for row in rows)
    pcaps = list((pytester.path / "pcaps").glob("*.pcap"))
    assert len(pcaps) == 13 and max(p.stat().st_size for p in pcaps) < 5 * 1024 * 1024


def test_a_leaking_stack_is_stopped_at_its_memory_limit(pytester):
    rows = run(
        pytester,
        "leak=100",
        f"{REPO}/suites/tcp/test_retransmission.py::test_retransmission_timer_backs_off_exponentially",
        "--target-memory=200",
    )
    assert [row["verdict"] for row in rows] == ["ERROR"]
    assert "exceeded its memory limit of 200 MB" in rows[0]["message"]
