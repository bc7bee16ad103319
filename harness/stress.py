"""Stress mode (``--stress N``): the scenarios most prone to races, N times each.

A test marked ``stress`` (the close races of suites/tcp) runs once in an ordinary run; under
``--stress N`` only those tests run, each N times (run1..runN, each with its own data and
timing, see suites/tcp/test_close_races.py), every run a test of its own with its own pcap
and verdict. The summary gives, per scenario, how many of its runs failed, and what a clean
result rules out: a bug that shows in a share p of runs escapes N runs with probability
(1 - p)^N.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from harness.core import config as run_config
from harness.core.verdicts import VerdictLog

MARKER = "stress"
RUN_ID = re.compile(r"(^|-)run\d+(?=-|$)")
CONFIDENCE = 0.95


def runs_of(config: pytest.Config, test: pytest.Function) -> int:
    """How many times a suite test runs: --stress N for a stress scenario (the others do
    not run then), else --repeat N (default 1)."""
    stress = int(config.getoption("stress") or 0)
    if stress:
        return stress if test.get_closest_marker(MARKER) is not None else 1
    return int(config.getoption("repeat"))


def rules_out(runs: int, confidence: float = CONFIDENCE) -> float:
    """The smallest share of failing runs that ``runs`` clean runs rule out at ``confidence``
    (5 % of closes, say); 1 - (1 - p)^runs = confidence solved for p."""
    return 1 - math.exp(math.log(1 - confidence) / runs)


def caught_with(share: float, runs: int) -> float:
    """The chance that ``runs`` runs show a bug that appears in ``share`` of them."""
    return 1 - (1 - share) ** runs


class Stress:
    def __init__(self, config: pytest.Config, log: VerdictLog) -> None:
        self.config, self.log = config, log
        self.runs = int(config.getoption("stress") or 0)
        if self.runs < 0:
            run_config.usage_error("--stress must be at least 1")
        if self.runs and config.getoption("repeat") > 1:
            run_config.usage_error("give --stress N or --repeat N, not both")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Under --stress only the stress scenarios run."""
        if not self.runs:
            return
        chosen = [i for i in items if i.get_closest_marker(MARKER) is not None]
        dropped = [i for i in items if i.get_closest_marker(MARKER) is None]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = chosen

    def tally(self) -> dict[str, tuple[int, list[str]]]:
        """Per scenario (the test id without its run number): runs, and the failing ones."""
        found: dict[str, tuple[int, list[str]]] = {}
        for verdict in self.log.verdicts.values():
            if "[" not in verdict.nodeid:
                continue
            head, _, params = verdict.nodeid.partition("[")
            rest = RUN_ID.sub("", params.rstrip("]")).strip("-")
            scenario = f"{head}[{rest}]" if rest else head
            runs, failing = found.get(scenario, (0, []))
            if verdict.verdict in ("FAIL", "WARN", "ERROR"):
                failing = [*failing, f"{verdict.nodeid} {verdict.verdict}"]
            found[scenario] = (runs + 1, failing)
        return found

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.runs or hasattr(self.config, "workerinput"):
            return
        terminalreporter.section(f"netconform: stress, {self.runs} runs per scenario")
        for scenario, (runs, failing) in sorted(self.tally().items()):
            terminalreporter.write_line(f"{len(failing)} of {runs} runs failed: {scenario}")
            for line in failing:
                terminalreporter.write_line(f"    {line}")
        terminalreporter.write_line(
            f"a clean scenario rules out, with {CONFIDENCE:.0%} confidence, a bug that shows in "
            f"{rules_out(self.runs):.1%} of runs or more; a 5 % bug is caught with "
            f"{caught_with(0.05, self.runs):.1%}"
        )
