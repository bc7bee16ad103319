"""Known deviations (a baseline) and what a run's verdicts mean against them.

A baseline is a TOML file of entries, one per known deviation of one target:

    [[deviation]]
    target = "dnsmasq"                          # the target's short name
    test = "suites/dhcp/test_server.py::test_declined_address_goes_to_no_client"
    verdict = "FAIL"                            # FAIL, WARN or UNSUPPORTED
    reason = "a DECLINEd address is offered to the next client that asks"
    version = "2.90"                            # optional: applies to this version only
    intermittent = true                         # optional: the deviation comes and goes

``test`` is the test's id without the target's part of its parameters (the same entry holds
whatever the target was called on the command line). Against a baseline each test that ran
is ``known`` (it deviates as the entry says), ``new`` (it deviates, and no entry says so, or
an entry names another verdict) or ``fixed`` (an entry says it deviates; it passes now). An
``intermittent`` entry is for behaviour that depends on the target's own randomness or timing
(a daemon's random backoff): the deviation is known when it shows, and a pass is not "fixed".
A test that ended in ERROR gave no verdict, so it is none of the three. The exit status
(README, "Exit status"): 1 for a new FAIL, a new WARN under --strict, or a fixed entry;
3 for an ERROR (no verdict could be made); 0 otherwise.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.core.errors import SetupError
from harness.core.verdicts import TestVerdict

DEVIATIONS = ("FAIL", "WARN", "UNSUPPORTED")
KNOWN, NEW, FIXED = "known", "new", "fixed"
EXIT_OK, EXIT_DEVIATION, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, as a shell reports a command killed by SIGINT
TEXT_FIELDS = {"target", "test", "verdict", "reason", "version"}
FIELDS = TEXT_FIELDS | {"intermittent"}


@dataclass(frozen=True)
class Known:
    target: str
    test: str
    verdict: str
    reason: str
    version: str = ""
    intermittent: bool = False

    def applies_to(self, version: str) -> bool:
        """An entry without a version holds for every version; one with a version holds
        where the target's version, without a Debian epoch, starts with it ("2.90" holds
        for "2.90-4+deb12u1", "1.35.0" for "1:1.35.0-4+b3")."""
        return not self.version or without_epoch(version).startswith(self.version)


@dataclass(frozen=True)
class Outcome:
    kind: str  # KNOWN, NEW or FIXED
    verdict: TestVerdict
    known: Known | None = None

    def describe(self) -> str:
        if self.kind == FIXED and self.known is not None:
            return (
                f"fixed: {self.verdict.nodeid}: the baseline says {self.known.verdict} "
                f"({self.known.reason}); it is {self.verdict.verdict} now"
            )
        if self.kind == NEW and self.known is not None:
            return (
                f"new: {self.verdict.nodeid}: {self.verdict.verdict} {self.verdict.message} "
                f"(the baseline says {self.known.verdict}: {self.known.reason})"
            )
        return f"{self.kind}: {self.verdict.nodeid}: {self.verdict.verdict} {self.verdict.message}"


def without_epoch(version: str) -> str:
    """A Debian version without its epoch ("1:1.35.0-4" -> "1.35.0-4")."""
    epoch, colon, rest = version.partition(":")
    return rest if colon and epoch.isdigit() else version


def load(paths: Iterable[Path]) -> list[Known]:
    """Every entry of every file, checked; a bad file is one SetupError naming it."""
    entries: list[Known] = []
    for path in paths:
        entries += _entries(path)
    return entries


def _entries(path: Path) -> list[Known]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SetupError(f"baseline {path}: {exc}") from None
    rows = data.get("deviation", [])
    if not isinstance(rows, list):
        raise SetupError(f"baseline {path}: [[deviation]] entries expected")
    return [_entry(path, n, row) for n, row in enumerate(rows, start=1)]


def _entry(path: Path, n: int, row: object) -> Known:
    where = f"baseline {path}, deviation {n}"
    if not isinstance(row, dict) or set(row) - FIELDS:
        raise SetupError(f"{where}: give only {', '.join(sorted(FIELDS))}")
    if not all(isinstance(row.get(k, ""), str) for k in TEXT_FIELDS):
        raise SetupError(f"{where}: {', '.join(sorted(TEXT_FIELDS))} are strings")
    if not isinstance(row.get("intermittent", False), bool):
        raise SetupError(f"{where}: intermittent is true or false")
    missing = sorted(k for k in ("target", "test", "verdict", "reason") if not row.get(k))
    if missing:
        raise SetupError(f"{where}: missing {', '.join(missing)}")
    if row["verdict"] not in DEVIATIONS:
        raise SetupError(f"{where}: verdict must be one of {', '.join(DEVIATIONS)}")
    return Known(**row)


def judge(
    verdicts: Iterable[tuple[TestVerdict, str, str, str]], entries: list[Known]
) -> list[Outcome]:
    """Outcomes for (verdict, target, target-independent test id, target version) of every
    test that ran; tests neither deviating nor named by an entry have none."""
    outcomes = []
    for verdict, target, test, version in verdicts:
        known = next(
            (e for e in entries if (e.target, e.test) == (target, test) and e.applies_to(version)),
            None,
        )
        outcome = _outcome(verdict, known)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _outcome(verdict: TestVerdict, known: Known | None) -> Outcome | None:
    if verdict.verdict == "ERROR":
        return None  # no verdict was made: neither a deviation nor a fix (exit status 3)
    if known is None:
        return Outcome(NEW, verdict) if verdict.verdict in DEVIATIONS else None
    if verdict.verdict == known.verdict:
        return Outcome(KNOWN, verdict, known)
    if verdict.verdict in DEVIATIONS:
        return Outcome(NEW, verdict, known)  # deviates otherwise than the entry says
    return None if known.intermittent else Outcome(FIXED, verdict, known)


def exit_status(outcomes: list[Outcome], verdicts: Iterable[str], *, strict: bool) -> int:
    """1 for a new FAIL (or a new WARN under --strict) or a fixed entry; else 3 if a test
    ended in ERROR; else 0. A regression is named before an infrastructure problem."""
    failing = {"FAIL", "WARN"} if strict else {"FAIL"}
    if any(o.kind == FIXED or (o.kind == NEW and o.verdict.verdict in failing) for o in outcomes):
        return EXIT_DEVIATION
    if "ERROR" in verdicts:
        return EXIT_ERROR
    return EXIT_OK


def write(path: Path, entries: list[Known]) -> None:
    """The baseline file for ``entries``, sorted, with a header saying how it was made."""
    lines = [
        "# Known deviations (netconform baseline). Regenerate with --update-baseline;",
        "# README, 'Baselines and exit status', says what each field means.",
    ]
    for entry in sorted(entries, key=lambda e: (e.target, e.test)):
        lines.append("\n[[deviation]]")
        for key, value in asdict(entry).items():
            if isinstance(value, bool) and value:
                lines.append(f"{key} = true")
            elif value and isinstance(value, str):
                lines.append(f"{key} = {_quoted(value)}")
    path.write_text("\n".join(lines) + "\n")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
