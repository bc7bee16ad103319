"""Stress mode (harness.stress): only the stress scenarios run, N times each, and the
summary counts the failing runs per scenario."""

import textwrap

import pytest

from harness.stress import caught_with, rules_out

SUITE = textwrap.dedent(
    """
    import pytest

    @pytest.mark.stress
    @pytest.mark.rfc("9293", "3.10.4", level="MUST")
    def test_racy(netconform_run):
        assert netconform_run % 4 != 0, "lost the FIN"

    @pytest.mark.rfc("9293", "3.10.4", level="MUST")
    def test_calm():
        pass
    """
)


def test_stress_runs_only_the_stress_scenarios_and_counts_failing_runs(pytester):
    pytester.makepyfile(test_races=SUITE)
    result = pytester.runpytest_subprocess("--stress=8", "-p", "no:randomly")
    result.assert_outcomes(passed=6, failed=2, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*netconform: stress, 8 runs per scenario*",
            "2 of 8 runs failed: test_races.py::test_racy",
            "*test_racy[[]run4[]] FAIL*",
            "*test_racy[[]run8[]] FAIL*",
        ]
    )


def test_stress_and_repeat_together_is_a_usage_error(pytester):
    pytester.makepyfile(test_races=SUITE)
    result = pytester.runpytest_subprocess("--stress=3", "--repeat=2")
    assert result.ret == 2


def test_confidence_figures():
    assert caught_with(0.05, 100) == pytest.approx(0.994, abs=0.001)
    assert rules_out(100) == pytest.approx(0.0295, abs=0.0005)
    assert caught_with(rules_out(37), 37) == pytest.approx(0.95)
