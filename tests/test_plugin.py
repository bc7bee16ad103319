"""The pytest plugin, exercised through pytester: options, markers, verdicts, evidence."""

import json

import pytest

from harness.core.verdicts import VERDICT_KEY
from harness.plugin import _wants_decode

VERDICTS = """
import pytest
from harness.core.errors import ConformanceFailure, Unsupported

@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_should_broken():
    raise ConformanceFailure("no immediate duplicate ACK")

@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")
def test_must_broken():
    raise ConformanceFailure("ACK after 800 ms")

@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_unsupported():
    raise Unsupported("target cannot 'abort'")

@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_pass():
    assert 1 + 1 == 2
"""


def test_should_is_warn_must_is_fail_missing_operation_is_unsupported(pytester):
    pytester.makepyfile(VERDICTS)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*SHOULD-level deviations (WARN)*",
            "*test_should_broken*",
            "*WARN (RFC 5681 §4.2 (SHOULD), a SHOULD; keyword SHOULD): no immediate duplicate ACK*",
            "*UNSUPPORTED: target cannot 'abort'*",
        ]
    )


BARE_ASSERTS = """
import pytest
from helper import check_in_the_harness

@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_should_with_a_bare_assert():
    assert 3 == 4, "three duplicate ACKs, four expected"

@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")
def test_must_with_a_bare_assert():
    assert False, "ACK after 800 ms"

@pytest.mark.rfc("5681", "4.2", level="SHOULD")
def test_assert_in_the_harness():
    check_in_the_harness()
"""


def test_a_bare_assert_in_a_suite_is_judged_at_the_requirements_level(pytester):
    """A failed assert written in the test module is a deviation: WARN for a SHOULD, FAIL for
    a MUST. One raised in the harness's own code is a harness bug: ERROR."""
    pytester.makepyfile(helper="def check_in_the_harness():\n    assert False, 'a bug'\n")
    pytester.makepyfile(test_bare=BARE_ASSERTS)
    verdicts = pytester.path / "verdicts.json"
    pytester.runpytest_subprocess(f"--verdicts={verdicts}")
    rows = json.loads(verdicts.read_text())
    got = {row["nodeid"].split("::")[-1]: row["verdict"] for row in rows}
    assert got == {
        "test_should_with_a_bare_assert": "WARN",
        "test_must_with_a_bare_assert": "FAIL",
        "test_assert_in_the_harness": "ERROR",
    }


def test_strict_turns_warn_into_fail(pytester):
    pytester.makepyfile(VERDICTS)
    result = pytester.runpytest_subprocess("--strict")
    result.assert_outcomes(passed=1, failed=2, skipped=1)


def test_unknown_target_is_a_one_line_usage_error(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--target=bogus")
    assert result.ret == 2  # netconform's usage errors (README, "Exit status")
    result.stderr.fnmatch_lines(
        ["*unknown target 'bogus'; known targets: linux, ref, cmd:COMMAND or NAME=cmd:COMMAND*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_malformed_rfc_marker_fails_collection(pytester):
    pytester.makepyfile("""
        import pytest
        @pytest.mark.rfc("9293", "3.4", req="MUST40")
        def test_x(): pass
    """)
    result = pytester.runpytest_subprocess()
    assert result.ret == 2  # netconform's usage errors (README, "Exit status")
    printed = "\n".join(result.outlines + result.errlines)  # collection exits print on stdout
    assert "bad rfc marker: requirement ID must be an Appendix B ID (MUST-40" in printed


def test_options_are_listed_in_help(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--target=TARGET*", "*--timing-floor=MS*", "*--timing-pct=PCT*"])


WRONG_EXPECTATION = """
import pytest
from reference_impl.wire.tcp import ACK

@pytest.mark.rfc("9293", "3.10.7.4", level="MUST")
def test_wrong_ack(tcp):
    peer = tcp.connect_to_target().peer
    peer.send(b"x" * 100)
    peer.expect(flags=ACK, ack=999, within=0.3, what="an impossible ACK")
"""


@pytest.mark.needs_root
def test_failing_check_against_linux_shows_expected_and_actual_with_evidence(pytester):
    """A check that cannot hold fails with both segments in the message, and the
    report still gets its labels, pcap and packet list."""
    pytester.makepyfile(test_tcp_wrong=WRONG_EXPECTATION)
    pcaps, results = pytester.path / "pcaps", pytester.path / "results"
    result = pytester.runpytest_subprocess(
        "--target=linux", f"--pcap-dir={pcaps}", f"--alluredir={results}"
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "expected an impossible ACK: [A] ack=999 from the target within 300 ms" in out
    assert "target [A] seq=1 ack=101 win=" in out and "-- ack 101 (want 999)" in out
    (pcap,) = pcaps.glob("*.pcap")
    assert pcap.stat().st_size > 24 + 3 * (16 + 54)  # header + at least handshake and data
    (result_file,) = results.glob("*-result.json")
    data = json.loads(result_file.read_text())
    labels = {(label["name"], label["value"]) for label in data["labels"]}
    assert ("story", "§3.10.7.4 MUST") in labels and ("severity", "critical") in labels
    assert data["status"] == "failed"
    names = {a["name"] for a in data["attachments"]}
    assert {
        "packets",
        "capture.pcap",
        "control protocol",
        "target environment",
        "ladder (connection)",
        "expected vs actual",
    } <= names
    ladder = next(a for a in data["attachments"] if a["name"] == "ladder (connection)")
    svg = (results / ladder["source"]).read_text()
    assert "expected, never seen: [A] ack=999" in svg  # the missing segment is drawn
    assert "#c62828" in svg  # and the segment that broke the expectation is red
    assert data["links"][0]["url"].endswith("rfc9293#section-3.10.7.4")


def test_allure_results_carry_categories_and_the_warn_message(pytester):
    pytester.makepyfile(VERDICTS)
    results = pytester.path / "results"
    pytester.runpytest_subprocess(f"--alluredir={results}")
    categories = json.loads((results / "categories.json").read_text())
    names = {c["name"].split(":")[0] for c in categories}
    assert names == {
        "NEW DEVIATION",
        "FIXED",
        "KNOWN DEVIATION",
        "FAIL",
        "ERROR",
        "UNSUPPORTED",
        "WARN",
    }
    by_name = {}
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text())
        by_name[data["name"]] = data
    warn = by_name["test_should_broken"]
    assert warn["status"] == "passed" and "WARN" in warn["statusDetails"]["message"]
    assert by_name["test_must_broken"]["status"] == "failed"
    assert by_name["test_unsupported"]["status"] == "skipped"
    env = (results / "environment.properties").read_text()
    assert "linux.sysctl.net.ipv4.tcp_congestion_control=reno" in env


@pytest.mark.parametrize(
    ("marker", "complaint"),
    [
        ('req="MUST-999"', "MUST-999 is not in the requirement catalogue"),
        ('req="MUST-40"', "MUST-40 is in section 3.8.6.3, not 3.4"),
        ('level="MAY"', "section 3.4 at level MAY is not in the requirement catalogue"),
    ],
)
def test_marker_naming_no_catalogue_entry_fails_collection(pytester, marker, complaint):
    pytester.makepyfile(f"""
        import pytest
        @pytest.mark.rfc("9293", "3.4", {marker})
        def test_x(): pass
    """)
    result = pytester.runpytest_subprocess()
    assert result.ret == 2  # netconform's usage errors (README, "Exit status")
    assert complaint in "\n".join(result.outlines + result.errlines)


def test_requirements_command_prints_coverage():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "requirements"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(row for row in out.splitlines() if row.startswith("RFC 9293 SHLD-31 "))
    assert "out-of-order segments are queued" in line and " 1 test " in line
    assert "MUST   wire-observable requirements covered:" in out
    assert "covered: 0 of" not in out.split("MUST   wire-observable")[1].splitlines()[0]


def test_repeat_runs_each_scenario_n_times_and_one_bad_run_fails(pytester):
    pytester.makepyfile("""
        import pytest
        from harness.core.errors import ConformanceFailure

        @pytest.mark.rfc("9293", "3.4", level="MUST")
        def test_flaky(netconform_run):
            if netconform_run == 2:
                raise ConformanceFailure("run 2 saw no ACK")
    """)
    result = pytester.runpytest_subprocess("--repeat=3", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_flaky?run2? FAILED*"])


class FakeItem:
    """What _wants_decode reads of a test item: the option and the recorded verdicts."""

    def __init__(self, decodes, recorded=()):
        self.config = type("Config", (), {"getoption": staticmethod(lambda name: decodes)})()
        self.user_properties = [(VERDICT_KEY, v) for v in recorded]


@pytest.mark.parametrize(
    "decodes, recorded, failure, wanted",
    [
        ("all", (), None, True),
        ("none", ("WARN",), AssertionError("x"), False),
        ("deviations", (), None, False),  # a plain pass: no tshark
        ("deviations", ("PASS",), None, False),
        ("deviations", ("WARN",), None, True),  # a SHOULD broken: passes, but a reader opens it
        ("deviations", ("INFO",), None, True),
        ("deviations", (), AssertionError("FAIL"), True),
        ("deviations", (), RuntimeError("harness"), True),  # an ERROR
        ("deviations", ("UNSUPPORTED",), pytest.skip.Exception("UNSUPPORTED: no abort"), False),
    ],
)
def test_decodes_option_picks_the_tests_whose_capture_tshark_decodes(
    decodes, recorded, failure, wanted
):
    assert _wants_decode(FakeItem(decodes, recorded), failure) is wanted
