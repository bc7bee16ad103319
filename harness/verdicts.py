"""The verdict of each test, from pytest's reports: PASS, FAIL, WARN, INFO, UNSUPPORTED, ERROR.

pytest knows passed, failed and skipped; netconform's plugin records the finer verdict in the
report's user properties (``VERDICT_KEY``). ``VerdictLog`` follows every report of a run
(also from xdist workers) and keeps the final verdict per test, with the reason, for the
terminal summary, ``--verdicts FILE`` (JSON), baselines and matrices.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VERDICT_KEY = "netconform_verdict"
MESSAGE_KEY = "netconform_message"
VERDICTS = ("PASS", "FAIL", "WARN", "INFO", "UNSUPPORTED", "ERROR")


@dataclass
class TestVerdict:
    nodeid: str
    verdict: str
    message: str = ""


def verdict_of(report: Any) -> str | None:
    """The verdict a report gives its test, or None when the report does not decide it
    (a passed set-up, a passed teardown)."""
    props = dict(report.user_properties)
    recorded = props.get(VERDICT_KEY)
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        return "UNSUPPORTED" if "UNSUPPORTED" in reason or recorded == "UNSUPPORTED" else "SKIP"
    if report.failed:
        if report.when == "call" and recorded == "FAIL":
            return "FAIL"
        return "ERROR"  # a harness error, a scenario not reached, a broken set-up or teardown
    if report.when == "call":
        return str(recorded) if recorded in ("WARN", "INFO") else "PASS"
    return None


def message_of(report: Any) -> str:
    props = dict(report.user_properties)
    if MESSAGE_KEY in props:
        return str(props[MESSAGE_KEY])
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    if report.failed:
        text = getattr(report, "longreprtext", "") or ""
        lines = [line for line in text.splitlines() if line.startswith("E ")]
        return " ".join(line[2:].strip() for line in lines)[:500] or text[-500:]
    return ""


class VerdictLog:
    """pytest plugin: the final verdict of every test in the run."""

    def __init__(self) -> None:
        self.verdicts: dict[str, TestVerdict] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        verdict = verdict_of(report)
        if verdict is None:
            return
        current = self.verdicts.get(report.nodeid)
        if current is not None and current.verdict != "PASS" and report.when == "teardown":
            return  # a teardown error does not hide the verdict the test body gave
        self.verdicts[report.nodeid] = TestVerdict(report.nodeid, verdict, message_of(report))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [asdict(v) for v in sorted(self.verdicts.values(), key=lambda v: v.nodeid)]
        path.write_text(json.dumps(rows, indent=1) + "\n")


def read(path: Path) -> dict[str, TestVerdict]:
    return {row["nodeid"]: TestVerdict(**row) for row in json.loads(path.read_text())}
