"""Verdicts on stacks that behave differently from the reference (tests/stacks/quirky.py).

Each case runs the suite tests a behaviour touches against the reference host with that
behaviour switched on, and asserts every verdict: what the RFCs allow passes, what they
forbid fails at the level of its keyword, and a scenario the stack never let happen is an
ERROR, never a PASS or a deviation.
"""

import json
import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
QUIRKY = REPO / "tests" / "stacks" / "quirky.py"
TCP = REPO / "suites" / "tcp"
ICMP = REPO / "suites" / "icmp"


def quirky(*quirks: str) -> str:
    flags = " ".join(f"--quirk {q}" for q in quirks)
    return (
        f"quirky=cmd:{sys.executable} {QUIRKY} {flags} --tap {{tap}} --ip {{ip}}/{{prefix}} "
        f"--mac {{mac}} --neighbor {{tester_ip}}={{tester_mac}}"
    )


def by_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def verdicts(pytester, target: str, *tests: str, suite: Path = TCP, key=by_name) -> dict[str, str]:
    """{key(test id): verdict} for the given suite tests (FILE::NAME) against ``target``
    (by default keyed by the test's name without its parameters)."""
    out = pytester.path / "verdicts.json"
    pytester.runpytest_subprocess(
        *[f"{suite / test}" for test in tests],
        f"--target={target}",
        f"--verdicts={out}",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    rows = json.loads(out.read_text())
    return {key(row["nodeid"]): row["verdict"] for row in rows}


def test_ecn_setup_syns_pass_the_handshake_tests(pytester):
    got = verdicts(pytester, quirky("ecn-syn"), "test_handshake.py")
    assert set(got.values()) == {"PASS"}, got
    assert "test_simultaneous_open_completes" in got


def test_coalesced_small_writes_are_retried_not_judged(pytester):
    got = verdicts(
        pytester,
        quirky("coalesce"),
        "test_retransmission.py::test_three_duplicate_acks_draw_the_missing_segment",
        "test_retransmission.py::test_two_duplicate_acks_do_not_draw_a_retransmission",
    )
    assert got == {
        "test_three_duplicate_acks_draw_the_missing_segment": "PASS",
        "test_two_duplicate_acks_do_not_draw_a_retransmission": "PASS",
    }


def test_a_hole_fill_acknowledged_in_steps_passes(pytester):
    got = verdicts(
        pytester,
        quirky("stepwise-hole-ack"),
        "test_acknowledgement.py::test_hole_fill_is_acknowledged_at_once",
        "test_acknowledgement.py::test_out_of_order_segments_are_kept_for_later",
        "test_acknowledgement.py::test_reordered_data_is_delivered_in_order",
    )
    assert set(got.values()) == {"PASS"}, got


def test_ignoring_a_bare_window_shrink_is_warned_and_persist_is_still_reached(pytester):
    got = verdicts(
        pytester,
        quirky("ignore-bare-shrink"),
        "test_flow_control.py::test_a_bare_ack_updates_the_send_window",
        "test_flow_control.py::test_zero_window_is_probed",
        "test_flow_control.py::test_sending_resumes_when_the_window_opens",
    )
    assert got == {
        "test_a_bare_ack_updates_the_send_window": "WARN",
        "test_zero_window_is_probed": "PASS",
        "test_sending_resumes_when_the_window_opens": "PASS",
    }


def test_a_tail_loss_probe_is_not_timed_as_an_rto(pytester):
    got = verdicts(
        pytester,
        quirky("tlp"),
        "test_retransmission.py::test_rto_retransmits_the_earliest_unacknowledged_segment",
        "test_retransmission.py::test_retransmission_timer_backs_off_exponentially",
    )
    assert set(got.values()) == {"PASS"}, got


def test_a_stack_that_sends_nothing_never_passes(pytester):
    """It answers "ok" to the control protocol and never puts a frame on the wire: the
    handshake test FAILs, and a test that needs a connection is an ERROR, not a PASS or WARN."""
    got = verdicts(
        pytester,
        quirky("silent"),
        "test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
        "test_close.py::test_half_close_lets_data_flow_the_other_way",
        "test_acknowledgement.py::test_hole_fill_is_acknowledged_at_once",
    )
    assert got == {
        "test_syn_ack_acknowledges_isn_plus_one": "FAIL",
        "test_half_close_lets_data_flow_the_other_way": "ERROR",
        "test_hole_fill_is_acknowledged_at_once": "ERROR",
    }


def test_a_host_that_never_answers_a_ping_is_reported_once(pytester):
    """The silence is the echo test's FAIL; the checks of a reply's contents, and the
    unknown-type check (silence proves nothing from a silent host), are UNSUPPORTED."""
    got = verdicts(pytester, quirky("silent"), "test_echo.py", suite=ICMP)
    assert got == {
        "test_an_echo_request_is_answered": "FAIL",
        "test_the_reply_returns_identifier_sequence_and_data": "UNSUPPORTED",
        "test_the_reply_comes_from_the_address_pinged": "UNSUPPORTED",
        "test_a_message_of_unknown_type_draws_nothing": "UNSUPPORTED",
    }


def test_stress_catches_a_fin_lost_in_five_percent_of_closes(pytester):
    """A stack that never sends the FIN of one connection in twenty passes a single run of
    the close tests most of the time; 100 stress runs of one close scenario catch it (a miss
    has probability 0.95^100 = 0.6 %; the stack picks its victims by port, so this run is
    the same every time)."""
    out = pytester.path / "verdicts.json"
    result = pytester.runpytest_subprocess(
        f"{TCP / 'test_close_races.py'}",
        "-k",
        "right_after and 1B",
        f"--target={quirky('lose-fin=0.05')}",
        "--stress=100",
        f"--verdicts={out}",
        "-p",
        "no:cacheprovider",
        timeout=1200,
    )
    rows = json.loads(out.read_text())
    failed = [r for r in rows if r["verdict"] != "PASS"]
    assert len(rows) == 100
    assert failed and {r["verdict"] for r in failed} == {"FAIL"}, failed
    assert all("no FIN followed" in r["message"] for r in failed), failed
    result.stdout.fnmatch_lines([f"{len(failed)} of 100 runs failed: *right_after*1B*"])
    assert result.ret == 1


def test_an_mss_option_outside_the_syn_fails_its_test_only(pytester):
    got = verdicts(
        pytester,
        quirky("mss-everywhere"),
        "test_options.py::test_segments_respect_the_peers_mss",
        "test_options.py::test_the_mss_option_appears_in_syn_segments_only",
    )
    assert got == {
        "test_segments_respect_the_peers_mss": "PASS",
        "test_the_mss_option_appears_in_syn_segments_only": "FAIL",
    }


def test_an_mss_the_target_finds_only_as_the_first_option_fails_the_parsing_tests(pytester):
    """A stack that reads the MSS only at offset 0 of the SYN's options passes the plain MSS
    test and fails each test that puts something before the MSS (MUST-4, MUST-6, MUST-64)."""
    got = verdicts(
        pytester,
        quirky("naive-options"),
        "test_options.py::test_segments_respect_the_peers_mss",
        "test_options.py::test_an_mss_among_nops_and_before_an_eol_is_found",
        "test_options.py::test_a_misaligned_mss_is_found",
        "test_options.py::test_an_unknown_option_in_the_syn_is_skipped_by_its_length",
    )
    assert got == {
        "test_segments_respect_the_peers_mss": "PASS",
        "test_an_mss_among_nops_and_before_an_eol_is_found": "FAIL",
        "test_a_misaligned_mss_is_found": "FAIL",
        "test_an_unknown_option_in_the_syn_is_skipped_by_its_length": "FAIL",
    }


def test_a_checksum_wrong_only_for_odd_lengths_fails_the_checksum_test(pytester):
    """The classic bug (no pad byte for an odd length): the handshake and even writes pass,
    the MUST-2 test with its odd writes fails on the first odd segment."""
    got = verdicts(
        pytester,
        quirky("odd-checksum"),
        "test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
        "test_errors.py::test_every_segment_from_the_target_has_a_valid_checksum",
    )
    assert got == {
        "test_syn_ack_acknowledges_isn_plus_one": "PASS",
        "test_every_segment_from_the_target_has_a_valid_checksum": "FAIL",
    }


def test_data_held_for_a_push_fails_the_push_less_delivery_test(pytester):
    got = verdicts(
        pytester,
        quirky("push-only"),
        "test_flow_control.py::test_data_without_push_reaches_the_application",
        "test_errors.py::test_segment_with_bad_checksum_is_dropped",  # its data has PSH
    )
    assert got == {
        "test_data_without_push_reaches_the_application": "FAIL",
        "test_segment_with_bad_checksum_is_dropped": "PASS",
    }


@pytest.mark.parametrize(
    ("quirk", "failing"),
    [
        ("rst-data-ignored", "test_an_rst_carrying_data_resets_the_connection"),
        ("zero-window-drops-rst", "test_an_rst_is_taken_at_a_zero_window"),
    ],
)
def test_an_rst_dropped_in_one_case_fails_that_case_only(pytester, quirk, failing):
    tests = [
        "test_rst_exactly_at_rcv_nxt_resets_the_connection",
        "test_an_rst_carrying_data_resets_the_connection",
        "test_an_rst_is_taken_at_a_zero_window",
    ]
    got = verdicts(pytester, quirky(quirk), *[f"test_errors.py::{t}" for t in tests])
    level = "WARN" if failing == tests[1] else "FAIL"  # SHLD-2 is a SHOULD, MUST-66 a MUST
    assert got == {t: level if t == failing else "PASS" for t in tests}


def by_state(nodeid: str) -> str:
    return nodeid.split("[")[-1].removeprefix("quirky-").rstrip("]")


def state_verdicts(pytester, quirk: str, test: str) -> dict[str, str]:
    """{state: verdict} of one parametrized test of test_state_edges.py on a quirky stack."""
    return verdicts(pytester, quirky(quirk), f"test_state_edges.py::{test}", key=by_state)


def test_an_rst_taken_outside_the_window_fails_in_every_state(pytester):
    got = state_verdicts(pytester, "rst-anywhere", "test_an_rst_outside_the_window_is_ignored")
    assert len(got) == 8 and set(got.values()) == {"FAIL"}, got
    kept = state_verdicts(pytester, "rst-anywhere", "test_an_rst_at_rcv_nxt_ends_the_connection")
    assert len(kept) == 6 and set(kept.values()) == {"PASS"}, kept


def test_a_stray_segment_left_unanswered_is_a_warning_in_every_state(pytester):
    """The ACK rests on a lower-case "should" (RFC 9293 3.10.7.4): WARN, not FAIL."""
    got = state_verdicts(pytester, "stray-unanswered", "test_data_outside_the_window_draws_an_ack")
    assert len(got) == 8 and set(got.values()) == {"WARN"}, got


def test_a_stack_that_answers_60_ms_late_passes_with_the_delay_noted(pytester):
    """Every frame leaves 60 ms late (a stack on a busy machine, or written in a slow
    language): an RST or the ACK of a FIN that the reference sends at once, and that no RFC
    times, is waited for and passes with the delay noted (before, the late ACK of a FIN
    failed a test about sequence numbers); a SYN-ACK gets the harness's patience anyway."""
    out = pytester.path / "verdicts.json"
    tests = [
        "test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
        "test_close.py::test_fin_from_target_consumes_one_sequence_number",
        "test_close.py::test_data_after_a_full_close_draws_rst",
    ]
    result = pytester.runpytest_subprocess(
        *[f"{TCP / test}" for test in tests],
        f"--target={quirky('slow=60')}",
        f"--verdicts={out}",
        "-p",
        "no:cacheprovider",
        timeout=300,
    )
    rows = {by_name(row["nodeid"]): row for row in json.loads(out.read_text())}
    assert {name: row["verdict"] for name, row in rows.items()} == {
        test.split("::")[1]: "PASS" for test in tests
    }, rows
    notes = re.findall(r"came after (\d+)\.\d ms", result.stdout.str())  # the run's INFO
    assert len(notes) == 2 and all(int(ms) >= 55 for ms in notes), notes
