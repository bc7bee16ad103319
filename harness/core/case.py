"""A case: one test's view of a bed. It captures from the test's start, records what the test
measured against the RFC bounds, runs set-up steps as preconditions, and at the end hands
the plugin one ``Evidence`` (frames, transcript, pictures, texts, environment) to attach.

Protocol packages subclass ``Case`` (harness.tcp.case.TcpCase, harness.dhcp.case.ServerCase
and ClientCase) and add what only they know through ``add_evidence``. The plugin finds a
test's cases under ``CASES_KEY``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import pytest

from harness.core import bounds
from harness.core.bed import Bed
from harness.core.bounds import Bound
from harness.core.errors import TargetError, precondition
from harness.core.link import Frame, Link
from harness.core.tolerance import Tolerance


@dataclass
class Evidence:
    """Everything a test leaves for its report, whatever the protocol."""

    frames: list[Frame] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    transcript_name: str = "control protocol"
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (name, SVG)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (name, text)
    environment: dict[str, str] = field(default_factory=dict)
    info: list[str] = field(default_factory=list)  # allowed behaviour worth a note (INFO)


class EvidenceSource(Protocol):
    """A case, or anything else a test judges (a recording made in the background)."""

    def evidence(self) -> Evidence: ...
    def void_reason(self) -> str: ...


CASES_KEY = pytest.StashKey[list[EvidenceSource]]()
CaseT = TypeVar("CaseT", bound="Case")


def register_case(item: pytest.Item, source: EvidenceSource) -> None:
    """Make ``source``'s evidence part of the test's report, pass or fail."""
    item.stash.setdefault(CASES_KEY, []).append(source)


def for_the_test(request: pytest.FixtureRequest, case: CaseT) -> Iterator[CaseT]:
    """What a protocol's case fixture yields from: the case, titled after the test, its
    evidence registered for the report, finished when the test is over."""
    case.title = request.node.name
    register_case(request.node, case)
    try:
        yield case
    finally:
        case.finish()


class Case:
    """One test on a bed."""

    __test__ = False

    def __init__(self, bed: Bed, tolerance: Tolerance | None = None) -> None:
        self.bed = bed
        self.tolerance = tolerance or Tolerance()
        self.measurements: list[str] = []
        self.title = ""  # the test's name, for the pictures (the fixture sets it)
        bed.link.start_capture()

    @property
    def link(self) -> Link:
        return self.bed.link

    def measure(self, what: str, seconds: float, *judged_by: Bound) -> None:
        """Record a measured time for the report, against every bound it is judged by."""
        self.measurements.append(bounds.describe(what, seconds, self.tolerance, *judged_by))

    def within(self, bound: Bound, *, doublings: int = 0) -> float:
        """How long to wait for what ``bound`` allows (after ``doublings`` backoffs), widened
        by the run's tolerance; a peer applies --timing-scale when it waits."""
        return self.tolerance.window(bound.seconds * 2**doublings)

    def record(self, what: str, value: object) -> None:
        """Record a measured value that is not a time (segments per round, a goodput)."""
        self.measurements.append(f"{what}: {value}")

    def precondition(self, scenario: str) -> contextlib.AbstractContextManager[None]:
        """See harness.core.errors.precondition."""
        return precondition(scenario)

    def evidence(self) -> Evidence:
        self.bed.link.drain()
        found = Evidence(frames=list(self.bed.link.captured))
        self.add_evidence(found)
        if self.measurements:
            found.texts.append(("measured", "\n".join(self.measurements)))
        link = self.bed.link
        if link.overflow or link.flood_rate:
            flood = f"; a flood of {link.flood_rate} frames/s" if link.flood_rate else ""
            note = f"{link.overflow} frames counted but not kept (the per-test cap){flood}"
            found.texts.append(("capture", note))
        found.environment = self.bed.environment()
        return found

    def add_evidence(self, found: Evidence) -> None:
        """What only the protocol knows: transcripts, ladders, logs."""

    def void_reason(self) -> str:
        """Why no verdict can stand, if one cannot: a flood from the target (the link raises
        FloodError) or a target stopped at its memory limit."""
        self.bed.link.drain()
        self.bed.link.check_flood()
        cgroup = getattr(self.bed.target, "cgroup", None)
        reason = cgroup.exit_reason() if cgroup is not None else ""
        return f"target {self.bed.name} {reason}" if reason else ""

    def finish(self) -> None:
        """Leave the bed ready for the next test."""


def raise_if_void(source: EvidenceSource) -> None:
    reason = source.void_reason()
    if reason:
        raise TargetError(f"{reason}; the verdict could not be made")
