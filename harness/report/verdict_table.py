"""What a run found per target, as the tables of the README: ``netconform verdicts FILE``.

Reads the ``--verdicts`` JSON of a run (``netconform run`` writes reports/verdicts.json) and
prints, per target (the test id's parameter), every verdict that is not PASS with the
requirement and the test's one-line reason. Only a run writes these tables; nobody types them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from harness.core.verdicts import TestVerdict

COLUMNS = ("FAIL", "WARN", "INFO", "UNSUPPORTED", "ERROR")
HEADINGS = {
    "FAIL": "FAIL (MUST)",
    "WARN": "WARN (SHOULD, or no keyword)",
    "INFO": "INFO",
    "UNSUPPORTED": "UNSUPPORTED",
    "ERROR": "ERROR",
}


def target_of(nodeid: str) -> str:
    """The target a test ran against: the first part of its parameter id."""
    params = nodeid.partition("[")[2].rstrip("]")
    return params.split("-")[0] if params else "(none)"


def by_target(verdicts: Iterable[TestVerdict], suite: str = "") -> dict[str, list[TestVerdict]]:
    grouped: dict[str, list[TestVerdict]] = defaultdict(list)
    for verdict in verdicts:
        if suite in verdict.nodeid:
            grouped[target_of(verdict.nodeid)].append(verdict)
    return dict(sorted(grouped.items()))


def _cell(tests: list[TestVerdict]) -> str:
    lines = []
    for test in sorted(tests, key=lambda t: t.requirement):
        first = (test.message or "").strip().splitlines()
        reason = " ".join(first[0].split()) if first else ""
        reason = reason.removeprefix("Skipped: ").removeprefix("UNSUPPORTED: ")
        cut = reason if len(reason) <= 110 else reason[:107] + "..."
        lines.append(f"{test.requirement or test.test}: {cut}".replace("|", "\\|"))
    return "<br>".join(lines) or "none"


def markdown(verdicts: Iterable[TestVerdict], suite: str = "") -> str:
    """One row per target, one column per verdict other than PASS."""
    rows = [
        "| target | PASS | " + " | ".join(HEADINGS[c] for c in COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for target, tests in by_target(verdicts, suite).items():
        cells = [_cell([t for t in tests if t.verdict == c]) for c in COLUMNS]
        passed = sum(1 for t in tests if t.verdict == "PASS")
        rows.append(f"| {target} | {passed} of {len(tests)} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
