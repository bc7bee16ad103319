"""Baselines of known deviations and the exit status (README, "Baselines and exit status"):
0 nothing new, 1 a new FAIL or a fixed entry, 2 a usage or set-up error, 3 an ERROR."""

import json
import textwrap
from pathlib import Path

import pytest

from harness import protocols
from harness.core import baseline
from harness.core.baseline import FIXED, KNOWN, NEW, Known
from harness.core.errors import SetupError
from harness.core.verdicts import TestVerdict

# The DHCP plugin's own parametrization names the target; no daemon starts (the fixtures
# are replaced), so only the verdict bookkeeping is under test.
SUITE = textwrap.dedent(
    """
    import pytest
    from harness.core.errors import ConformanceFailure, HarnessError

    @pytest.fixture(scope="session")
    def dhcp_server_bed(request):
        return request.param

    @pytest.fixture
    def dhcp_server(dhcp_server_bed):
        return dhcp_server_bed

    @pytest.mark.rfc("2131", "4.3.3", req="declined-address-unavailable")
    def test_declined(dhcp_server):
        if dhcp_server != "ref":
            raise ConformanceFailure(f"{dhcp_server} offered a declined address")

    @pytest.mark.rfc("2131", "4.3.3", req="declined-address-unavailable")
    def test_broken(dhcp_server):
        if dhcp_server == "kea":
            raise HarnessError("the scenario could not be built")
    """
)
KNOWN_DNSMASQ = textwrap.dedent(
    """
    [[deviation]]
    target = "dnsmasq"
    test = "test_gate.py::test_declined"
    verdict = "FAIL"
    reason = "offers a declined address"
    """
)


def run(pytester, *args):
    pytester.makepyfile(test_gate=SUITE)
    return pytester.runpytest_subprocess("-p", "no:randomly", "--baseline-only", *args)


def allure_messages(results: Path) -> dict[str, str]:
    """Test name -> the first line of its Allure status message."""
    found = {}
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text())
        message = (data.get("statusDetails") or {}).get("message") or ""
        found[data["name"]] = message.splitlines()[0] if message else ""
    return found


def test_a_known_deviation_passes_the_run(pytester):
    (pytester.path / "known.toml").write_text(KNOWN_DNSMASQ)
    results = pytester.path / "results"
    args = ["--dhcp-server", "dnsmasq", "--baseline", "known.toml", f"--alluredir={results}"]
    result = run(pytester, *args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*netconform: 1 passed, 0 new deviations, 1 known, 0 fixed*"])
    messages = allure_messages(results)
    assert messages["test_declined[dnsmasq]"].startswith("KNOWN DEVIATION (baseline: offers")
    categories = json.loads((results / "categories.json").read_text())
    names = [c["name"].split(":")[0] for c in categories]
    assert names[:3] == ["NEW DEVIATION", "FIXED", "KNOWN DEVIATION"]


def test_a_new_fail_fails_the_run_and_is_named(pytester):
    results = pytester.path / "results"
    result = run(pytester, "--dhcp-server", "dnsmasq", f"--alluredir={results}")
    assert result.ret == 1
    assert allure_messages(results)["test_declined[dnsmasq]"].startswith("NEW DEVIATION (FAIL")
    result.stdout.fnmatch_lines(
        ["*new deviations*", "*new: test_gate.py::test_declined[[]dnsmasq[]]*"]
    )


def test_a_fixed_entry_fails_the_run(pytester):
    """The baseline says the reference offers a declined address; it does not (any more)."""
    (pytester.path / "stale.toml").write_text(KNOWN_DNSMASQ.replace("dnsmasq", "ref"))
    result = run(pytester, "--dhcp-server", "ref", "--baseline", "stale.toml")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*fixed: test_gate.py::test_declined[[]ref[]]: the baseline says FAIL*"]
    )


def test_an_error_is_exit_status_3(pytester):
    result = run(pytester, "--dhcp-server", "kea", "--baseline", "none.toml")
    assert result.ret == 2  # the missing baseline file is a usage error, first
    (pytester.path / "kea.toml").write_text(KNOWN_DNSMASQ.replace("dnsmasq", "kea"))
    result = run(pytester, "--dhcp-server", "kea", "--baseline", "kea.toml")
    assert result.ret == 3


def test_update_baseline_writes_what_the_run_found(pytester):
    target = pytester.path / "mine.toml"
    args = ["--dhcp-server", "dnsmasq", "--baseline", str(target)]
    result = run(pytester, *args, "--update-baseline")
    assert result.ret == 0  # judged against the file it has just written
    entries = baseline.load([target])
    assert [(e.target, e.test, e.verdict) for e in entries] == [
        ("dnsmasq", "test_gate.py::test_declined", "FAIL")
    ]
    assert run(pytester, *args).ret == 0


def test_update_baseline_keeps_the_words_of_an_entry_that_still_holds(pytester):
    target = pytester.path / "mine.toml"
    target.write_text(KNOWN_DNSMASQ + "intermittent = true\n")
    args = ["--dhcp-server", "dnsmasq", "--baseline", str(target)]
    assert run(pytester, *args, "--update-baseline").ret == 0
    (entry,) = baseline.load([target])
    assert (entry.reason, entry.intermittent) == ("offers a declined address", True)


def test_removing_a_shipped_entry_makes_the_run_fail_naming_it(pytester, tmp_path):
    """The Debian dnsmasq's known FAIL of the DECLINE test, minus its baseline entry."""
    shipped = next(p for p in protocols.shipped_baselines() if p.parent.name == "dhcp")
    entries = baseline.load([shipped])
    test = "suites/dhcp/test_server.py::test_declined_address_goes_to_no_client"
    kept = [e for e in entries if (e.target, e.test) != ("dnsmasq", test)]
    assert len(kept) == len(entries) - 1, "the shipped baseline has lost the entry"
    trimmed = tmp_path / "trimmed.toml"
    baseline.write(trimmed, kept)
    suite = Path(protocols.__file__).parents[1] / test.split("::")[0]
    args = [f"{suite}::{test.split('::')[1]}", "--dhcp-server", "dnsmasq", "-p", "no:randomly"]
    with_entry = pytester.runpytest_subprocess(*args)
    assert with_entry.ret == 0, with_entry.stdout.str()[-2000:]
    without = pytester.runpytest_subprocess(*args, "--baseline-only", f"--baseline={trimmed}")
    assert without.ret == 1
    without.stdout.fnmatch_lines(["*new: *test_declined_address_goes_to_no_client[[]dnsmasq[]]*"])


# -- the model, without pytest ----------------------------------------------------------------


def verdict(nodeid, value):
    return TestVerdict(nodeid, value, "why")


def test_judge_tells_known_new_and_fixed_apart():
    entries = [Known("a", "t::x", "FAIL", "r"), Known("a", "t::y", "WARN", "r")]
    rows = [
        (verdict("t::x[a]", "FAIL"), "a", "t::x", ""),
        (verdict("t::y[a]", "PASS"), "a", "t::y", ""),
        (verdict("t::z[a]", "FAIL"), "a", "t::z", ""),
        (verdict("t::x[b]", "FAIL"), "b", "t::x", ""),  # another target: not known
        (verdict("t::w[a]", "PASS"), "a", "t::w", ""),
    ]
    kinds = [(o.kind, o.verdict.nodeid) for o in baseline.judge(rows, entries)]
    assert kinds == [(KNOWN, "t::x[a]"), (FIXED, "t::y[a]"), (NEW, "t::z[a]"), (NEW, "t::x[b]")]


def test_another_deviation_than_the_entry_says_is_new_and_an_error_is_nothing():
    entries = [Known("a", "t::x", "WARN", "late"), Known("a", "t::y", "FAIL", "r")]
    rows = [
        (verdict("t::x[a]", "FAIL"), "a", "t::x", ""),  # worse than known: new
        (verdict("t::y[a]", "ERROR"), "a", "t::y", ""),  # no verdict: not fixed
    ]
    (outcome,) = baseline.judge(rows, entries)
    assert (outcome.kind, outcome.verdict.nodeid) == (NEW, "t::x[a]")
    assert "the baseline says WARN: late" in outcome.describe()


def test_an_intermittent_entry_is_known_when_it_shows_and_not_fixed_when_it_does_not():
    entries = [Known("a", "t::x", "WARN", "random backoff", intermittent=True)]
    shows = baseline.judge([(verdict("t::x", "WARN"), "a", "t::x", "")], entries)
    hides = baseline.judge([(verdict("t::x", "PASS"), "a", "t::x", "")], entries)
    assert [o.kind for o in shows] == [KNOWN]
    assert hides == []


def test_a_versioned_entry_holds_for_that_version_only():
    entries = [Known("dnsmasq", "t::x", "FAIL", "r", version="2.90")]
    same = baseline.judge([(verdict("t::x", "FAIL"), "dnsmasq", "t::x", "2.90-4+deb12u1")], entries)
    other = baseline.judge([(verdict("t::x", "FAIL"), "dnsmasq", "t::x", "2.91-1")], entries)
    epoch = baseline.judge([(verdict("t::x", "FAIL"), "dnsmasq", "t::x", "1:2.90-4")], entries)
    assert [o.kind for o in same] == [KNOWN]
    assert [o.kind for o in epoch] == [KNOWN]
    assert [o.kind for o in other] == [NEW]


@pytest.mark.parametrize(
    ("kinds_and_verdicts", "verdicts", "strict", "status"),
    [
        ([(KNOWN, "FAIL")], ["FAIL"], False, 0),
        ([(NEW, "WARN")], ["WARN"], False, 0),
        ([(NEW, "WARN")], ["WARN"], True, 1),
        ([(NEW, "UNSUPPORTED")], ["UNSUPPORTED"], True, 0),
        ([(NEW, "FAIL")], ["FAIL"], False, 1),
        ([(FIXED, "PASS")], ["PASS"], False, 1),
        ([], ["PASS", "ERROR"], False, 3),
        ([(NEW, "FAIL")], ["FAIL", "ERROR"], False, 1),  # a regression is named first
    ],
)
def test_exit_status(kinds_and_verdicts, verdicts, strict, status):
    outcomes = [baseline.Outcome(k, verdict("t", v)) for k, v in kinds_and_verdicts]
    assert baseline.exit_status(outcomes, verdicts, strict=strict) == status


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[[deviation]]\ntarget = 'a'\n", "missing reason, test, verdict"),
        ("[[deviation]]\ntarget='a'\ntest='t'\nverdict='PASS'\nreason='r'\n", "verdict must be"),
        ("[[deviation]]\ntarget='a'\ntest='t'\nverdict='FAIL'\nreason='r'\nwhy='x'\n", "give only"),
        (
            "[[deviation]]\ntarget=1\ntest='t'\nverdict='FAIL'\nreason='r'\n",
            "are strings",
        ),
        (
            "[[deviation]]\ntarget='a'\ntest='t'\nverdict='FAIL'\nreason='r'\nintermittent='y'\n",
            "intermittent is true or false",
        ),
        ("[[deviation\n", "baseline"),
    ],
)
def test_a_bad_baseline_is_one_clear_error(tmp_path, text, complaint):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SetupError, match=complaint):
        baseline.load([path])


def test_written_baselines_read_back_the_same(tmp_path):
    entries = [
        Known("b", 't::"q"', "WARN", 'a "quoted" reason', "1.0"),
        Known("a", "t::x", "FAIL", "r", intermittent=True),
    ]
    path = tmp_path / "out.toml"
    baseline.write(path, entries)
    assert sorted(baseline.load([path]), key=lambda e: e.target) == sorted(
        entries, key=lambda e: e.target
    )


def test_every_shipped_baseline_is_valid_and_names_tests_that_exist():
    root = Path(protocols.__file__).parents[1]
    for path in protocols.shipped_baselines():
        for entry in baseline.load([path]):
            file, _, name = entry.test.partition("::")
            assert (root / file).exists(), entry
            assert f"def {name.partition('[')[0]}(" in (root / file).read_text(), entry


def test_verdicts_json_carries_the_target_and_its_test_id(pytester):
    out = pytester.path / "v.json"
    run(pytester, "--dhcp-server", "dnsmasq", f"--verdicts={out}")
    rows = {r["nodeid"]: r for r in json.loads(out.read_text())}
    row = rows["test_gate.py::test_declined[dnsmasq]"]
    assert (row["target"], row["test_id"]) == ("dnsmasq", "test_gate.py::test_declined")
    assert row["version"]  # the Debian package's version, as dpkg reports it


def test_a_baseline_holds_for_every_repetition(pytester):
    """Under --repeat (and --stress) each run is judged by the same entry."""
    (pytester.path / "known.toml").write_text(KNOWN_DNSMASQ)
    args = ["--dhcp-server", "dnsmasq", "--baseline", "known.toml", "--repeat", "3"]
    result = run(pytester, *args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*netconform: 3 passed, 0 new deviations, 3 known, 0 fixed*"])
