"""The run's gate: its verdicts against the known deviations (harness.core.baseline), the
exit status that follows, the summary line, and ``--update-baseline``.

Registered by harness.plugin for every session. The shipped baselines (``baseline.toml`` in
a protocol package: the Debian DHCP daemons' deviations) always apply; ``--baseline FILE``
adds a user's own. Each test that deviates is marked in its Allure result as a known or a
new deviation; one whose baseline entry no longer holds, as fixed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness import protocols
from harness.core import baseline
from harness.core import config as run_config
from harness.core.baseline import FIXED, KNOWN, NEW, Known, Outcome
from harness.core.errors import SetupError
from harness.core.verdicts import (
    REQUIREMENT_KEY,
    TARGET_KEY,
    TEST_ID_KEY,
    VERSION_KEY,
    TestVerdict,
    VerdictLog,
    message_of,
    verdict_of,
)
from harness.report import allure_report

MARKS = {KNOWN: "KNOWN DEVIATION", NEW: "NEW DEVIATION", FIXED: "FIXED"}


class Gate:
    def __init__(self, config: pytest.Config, log: VerdictLog) -> None:
        self.config = config
        self.log = log
        self.own = [Path(p) for p in config.getoption("baseline") or []]
        shipped = [] if config.getoption("baseline_only") else protocols.shipped_baselines()
        self.shipped = [p for p in shipped if p.resolve() not in {o.resolve() for o in self.own}]
        updating = bool(config.getoption("update_baseline"))
        readable = [p for p in self.own if p.exists() or not updating]  # updating may create
        try:
            self.entries = baseline.load([*self.shipped, *readable])
        except SetupError as exc:
            run_config.usage_error(str(exc))
        if config.getoption("update_baseline") and len(self.own) != 1:
            run_config.usage_error("--update-baseline rewrites one file: give one --baseline FILE")
        self.outcomes: list[Outcome] = []
        self.judged = False  # the run got as far as its verdicts
        self.interrupted = False  # Ctrl-C or SIGTERM: exit status 130, as for any command

    # -- one test ---------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Generator[None, Any, None]:
        """After allure-pytest has judged the test: say in its Allure result whether a
        deviation is known or new, or a baseline entry no longer holds."""
        report = (yield).get_result()
        verdict = verdict_of(report)
        if verdict is None or not dict(report.user_properties).get(REQUIREMENT_KEY):
            return
        props = dict(item.user_properties)
        test = TestVerdict(item.nodeid, verdict, message_of(report))
        (outcome,) = self._judge([(test, props)]) or (None,)
        if outcome is not None:
            allure_report.mark_outcome(item, _mark(outcome))

    def _judge(self, rows: list[tuple[TestVerdict, dict[str, Any]]]) -> list[Outcome]:
        return baseline.judge(
            (
                (
                    verdict,
                    str(p.get(TARGET_KEY, "")),
                    str(p.get(TEST_ID_KEY, "")),
                    str(p.get(VERSION_KEY, "")),
                )
                for verdict, p in rows
            ),
            self.entries,
        )

    # -- the run ----------------------------------------------------------------------------

    def suite_verdicts(self) -> list[TestVerdict]:
        return [v for v in self.log.verdicts.values() if v.requirement]

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = excinfo.errisinstance(KeyboardInterrupt)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return  # the controller judges the whole run
        if self.interrupted:
            session.exitstatus = baseline.EXIT_INTERRUPTED
            return
        suite = self.suite_verdicts()
        self.outcomes = self._judge_run(suite)
        if self.config.getoption("update_baseline"):
            self._update(suite)
            self.entries = baseline.load([*self.shipped, *self.own])
            self.outcomes = self._judge_run(suite)  # the exit status says what is left
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = self._exit_status(suite)
            self.judged = True

    def _judge_run(self, suite: list[TestVerdict]) -> list[Outcome]:
        return baseline.judge(
            ((v, v.target, v.test_id or v.nodeid, v.version) for v in suite), self.entries
        )

    def _exit_status(self, suite: list[TestVerdict]) -> int:
        others_failed = any(
            v.verdict in ("FAIL", "ERROR") and not v.requirement for v in self.log.verdicts.values()
        )
        strict = bool(self.config.getoption("strict"))
        status = baseline.exit_status(self.outcomes, (v.verdict for v in suite), strict=strict)
        return baseline.EXIT_DEVIATION if others_failed else status

    def _update(self, suite: list[TestVerdict]) -> None:
        """Rewrite the one --baseline file: this run's deviations (those the shipped
        baselines do not hold already) and its entries for tests this run did not run or
        could not judge (ERROR). An entry that still holds keeps its reason and its
        intermittent flag, so that hand-written words survive an update."""
        path = self.own[0]
        shipped = {(e.target, e.test) for e in baseline.load(self.shipped)}
        mine = baseline.load([path]) if path.exists() else []
        judged = {(v.target, v.test_id or v.nodeid) for v in suite if v.verdict != "ERROR"}
        kept = [e for e in mine if (e.target, e.test) not in judged]
        fresh = [
            _entry_for(v, mine)
            for v in suite
            if v.verdict in baseline.DEVIATIONS and (v.target, v.test_id or v.nodeid) not in shipped
        ]
        baseline.write(path, kept + fresh)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput") or not self.judged or not self.suite_verdicts():
            return
        counts = {kind: sum(1 for o in self.outcomes if o.kind == kind) for kind in MARKS}
        passed = sum(1 for v in self.suite_verdicts() if v.verdict in ("PASS", "INFO"))
        for kind in (NEW, FIXED):
            rows = [o for o in self.outcomes if o.kind == kind]
            if rows:
                terminalreporter.section(f"netconform: {MARKS[kind].lower()}s")
                for outcome in rows:
                    terminalreporter.write_line(outcome.describe())
        terminalreporter.write_line(
            f"netconform: {passed} passed, {counts[NEW]} new deviations, "
            f"{counts[KNOWN]} known, {counts[FIXED]} fixed"
        )


def _mark(outcome: Outcome) -> str:
    """The first line of the test's Allure status message: its category, and why."""
    known = outcome.known
    if outcome.kind == KNOWN and known is not None:
        return f"KNOWN DEVIATION (baseline: {known.reason})"
    if outcome.kind == FIXED and known is not None:
        return f"FIXED (the baseline says {known.verdict}: {known.reason}; update it)"
    return f"NEW DEVIATION ({outcome.verdict.verdict}, in no baseline)"


def _entry_for(verdict: TestVerdict, mine: list[Known]) -> Known:
    """The entry for a deviation of this run; an entry of the file that says the same keeps
    its own reason and flag, and a verdict that comes and goes stays intermittent."""
    test = verdict.test_id or verdict.nodeid
    old = next((e for e in mine if (e.target, e.test) == (verdict.target, test)), None)
    if old is not None and old.verdict == verdict.verdict:
        return replace(old, version=old.version and _upstream(verdict.version))
    version = _upstream(verdict.version)
    return Known(verdict.target, test, verdict.verdict, _reason(verdict), version)


def _reason(verdict: TestVerdict) -> str:
    first = (verdict.message or "").strip().splitlines()
    text = " ".join(first[0].split()) if first else verdict.verdict
    return text.removeprefix("Skipped: ").removeprefix("UNSUPPORTED: ")[:300]


def _upstream(version: str) -> str:
    """The upstream part of a Debian version ("1:2.90-4+deb12u1" -> "2.90"); a baseline made
    on one Debian release then holds for its point updates."""
    upstream = baseline.without_epoch(version).split("-")[0]
    return upstream if version and version != "netconform" else ""
