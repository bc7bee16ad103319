"""The verdict of each test, from pytest's reports: PASS, FAIL, WARN, INFO, UNSUPPORTED, ERROR.

pytest knows passed, failed and skipped; netconform's plugin records the finer verdict in the
report's user properties (``VERDICT_KEY``). ``VerdictLog`` follows every report of a run
(also from xdist workers) and keeps the final verdict per test, with the reason, for the
terminal summary, ``--verdicts FILE`` (JSON), baselines and matrices.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VERDICT_KEY = "netconform_verdict"
MESSAGE_KEY = "netconform_message"
REQUIREMENT_KEY = "netconform_requirement"  # the catalogue key, e.g. "RFC 9293 MUST-40"
SUMMARY_KEY = "netconform_summary"  # the requirement in our words
# The test's target: its short name, the test id without the target's parameter, its version
# (harness.core.config.tag_target); baselines match on them.
TARGET_KEY, TEST_ID_KEY, VERSION_KEY = "netconform_target", "netconform_test", "netconform_version"
VERDICTS = ("PASS", "FAIL", "WARN", "INFO", "UNSUPPORTED", "ERROR")
PASSING = ("PASS", "INFO")  # what a score counts as passed
COUNTED = ("FAIL", "WARN", "UNSUPPORTED", "ERROR")  # shown beside a score


def summary(cells: dict[str, str]) -> str:
    """'passed 30 of 52 checked; 3 fail, 12 unsupported, 2 error' for requirement cells."""
    passed = sum(1 for v in cells.values() if v in PASSING)
    parts = [f"{n} {v.lower()}" for v in COUNTED if (n := sum(1 for c in cells.values() if c == v))]
    return f"passed {passed} of {len(cells)} checked" + (f"; {', '.join(parts)}" if parts else "")


@dataclass
class TestVerdict:
    __test__ = False  # not a pytest test class

    nodeid: str
    verdict: str
    message: str = ""
    requirement: str = ""
    summary: str = ""
    target: str = ""  # the target's short name, when the test has one
    test_id: str = ""  # the test id without the target's parameter
    version: str = ""  # the target's version, as far as the harness knows it

    @property
    def test(self) -> str:
        """The test's name without its file and parameters."""
        return self.nodeid.split("::")[-1].split("[")[0]

    @property
    def topic(self) -> str:
        """What part of the protocol the test is about: its file's name (test_on_link.py:
        on-link)."""
        stem = self.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        return stem.removeprefix("test_").replace("_", "-")


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
        crash = getattr(report.longrepr, "reprcrash", None)
        text = str(getattr(crash, "message", "") or getattr(report, "longreprtext", ""))
        # "harness.core.errors.TargetError: target x ..." -> "target x ..."
        return re.sub(r"^(\w+\.)*\w+(Error|Failure|Exception|Reached|Interrupted): ", "", text)[
            :2000
        ]
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
        props = dict(report.user_properties)
        self.verdicts[report.nodeid] = TestVerdict(
            report.nodeid,
            verdict,
            message_of(report),
            str(props.get(REQUIREMENT_KEY, "")),
            str(props.get(SUMMARY_KEY, "")),
            str(props.get(TARGET_KEY, "")),
            str(props.get(TEST_ID_KEY, "")),
            str(props.get(VERSION_KEY, "")),
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [asdict(v) for v in sorted(self.verdicts.values(), key=lambda v: v.nodeid)]
        path.write_text(json.dumps(rows, indent=1) + "\n")


def read(path: Path) -> dict[str, TestVerdict]:
    rows = json.loads(path.read_text())
    fields = set(TestVerdict.__dataclass_fields__)
    verdicts = [TestVerdict(**{k: v for k, v in row.items() if k in fields}) for row in rows]
    return {v.nodeid: v for v in verdicts}


def deviation_verdict(level: str | None, exc: BaseException, *, strict: bool) -> str:
    """FAIL, WARN or INFO for a deviation from a requirement of ``level`` (None: the test
    names none). A failure that is a MUST whatever the test (a malformed frame) is a FAIL;
    an optional behaviour the target lacks (MAY) is INFO, never a deviation; a SHOULD is
    WARN unless ``strict`` (--strict, or a requirement marked strict)."""
    if getattr(exc, "level", None) == "MUST":
        return "FAIL"
    if level == "MAY":
        return "INFO"
    if level is None or level == "MUST" or strict:
        return "FAIL"
    return "WARN"


def suite_assertion(exc: AssertionError, test_file: str) -> bool:
    """Whether a failed assert was written in the test's own module (then it is a deviation
    of the test's requirement, judged by its level like a ConformanceFailure), rather than
    in the harness (a harness bug: ERROR)."""
    tb, last = exc.__traceback__, None
    while tb is not None:
        last, tb = tb, tb.tb_next
    if last is None:
        return False
    return Path(last.tb_frame.f_code.co_filename).resolve() == Path(test_file).resolve()
