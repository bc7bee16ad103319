"""Long DHCP client scenarios, each run once per client in the background and judged by
several tests.

A lease's life (bind, renew at T1, rebind at T2, expiry) takes minutes with leases long
enough that no client's own floors and retransmission intervals decide a verdict; so does a
DISCOVER backoff watched long enough to see it grow. Such a scenario is a function of a
ClientCase, registered with ``@scenario("name")`` in a suite; tests that judge it carry
``@pytest.mark.recorded("name")`` and take the ``recording`` fixture. When the first DHCP
client test of a session runs, every scenario the session's tests need is started, for every
client, each in a thread on a bed of its own (namespaces made in the main thread): they all
wait side by side, while the other tests run. A test then judges the recording, which keeps
the scenario's capture, DHCP messages, the client's log and hook events as its evidence.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.core import bounds
from harness.core.bounds import Bound
from harness.core.case import Evidence
from harness.core.cgroups import Limits
from harness.core.errors import ConformanceFailure, HarnessError, ScenarioNotReached
from harness.core.tolerance import Tolerance
from harness.dhcp.case import ClientCase, DhcpClientBed
from harness.dhcp.peer import Seen, ServerPeer

Scenario = Callable[[ClientCase], dict[str, Any]]
SCENARIOS: dict[str, Scenario] = {}
WAIT_MARGIN_S = 120.0  # beyond a scenario's own length, before a test gives up on it


def scenario(name: str, seconds: float) -> Callable[[Scenario], Scenario]:
    """Register a scenario; ``seconds`` is about how long it runs (for the wait limit)."""

    def register(fn: Scenario) -> Scenario:
        fn.seconds = seconds  # type: ignore[attr-defined]
        SCENARIOS[name] = fn
        return fn

    return register


@dataclass
class Recording:
    scenario: str
    client: str
    case: ClientCase
    facts: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    evidence: Evidence | None = None  # collected once the scenario is over

    def fact(self, name: str) -> Any:
        """A fact the scenario established; a missing one means it did not get that far."""
        if self.error is not None:
            if isinstance(self.error, HarnessError | AssertionError):
                raise ScenarioNotReached(f"the {self.scenario} scenario", str(self.error))
            raise self.error
        if name not in self.facts:
            raise ScenarioNotReached(f"the {self.scenario} scenario", f"it never reached {name}")
        return self.facts[name]


@dataclass
class RecordingView:
    """One test's view of a recording: the recording's facts and messages, and the test's
    own measurements (the report shows them beside the recording's evidence)."""

    recording: Recording
    measurements: list[str] = field(default_factory=list)
    tolerance: Tolerance = field(default_factory=Tolerance)

    def fact(self, name: str) -> Any:
        return self.recording.fact(name)

    def measure(self, what: str, seconds: float, *judged_by: Bound) -> None:
        """A measured time, against every bound it is judged by (as Case.measure)."""
        self.measurements.append(bounds.describe(what, seconds, self.tolerance, *judged_by))

    def record(self, what: str, value: object) -> None:
        self.measurements.append(f"{what}: {value}")

    def evidence(self) -> Evidence:
        """The recording's evidence, with this test's own measurements."""
        found = self.recording.evidence or Evidence()
        texts = list(found.texts)
        if self.measurements:
            texts.append(("measured", "\n".join(self.measurements)))
        return dataclasses.replace(found, texts=texts)

    def void_reason(self) -> str:
        return ""

    @property
    def server(self) -> ServerPeer:
        return self.recording.case.server

    @property
    def from_client(self) -> list[Seen]:
        """The client's DHCP messages, in order."""
        return [seen for seen in self.server.exchanged if not seen.from_tester]

    def failure(self, what: str) -> ConformanceFailure:
        return self.server.failure(what)


@dataclass
class _Job:
    recording: Recording
    bed: DhcpClientBed
    thread: threading.Thread
    deadline: float


class Recorder:
    """The scenarios of one session, started together, each result kept for its tests."""

    def __init__(self, limits: Limits, tolerance: Tolerance | None = None) -> None:
        self.limits = limits
        self.tolerance = tolerance or Tolerance()
        self.jobs: dict[tuple[str, str], _Job] = {}

    def start(self, pairs: Iterable[tuple[str, str]]) -> None:
        for name, client in sorted(set(pairs) - set(self.jobs)):
            bed = DhcpClientBed(client, self.limits)
            case = ClientCase(bed, self.tolerance)
            case.title = f"{name} scenario"
            recording = Recording(name, client, case)
            thread = threading.Thread(
                target=self._run, args=(SCENARIOS[name], recording), daemon=True
            )
            seconds = getattr(SCENARIOS[name], "seconds", 60.0)
            self.jobs[(name, client)] = _Job(
                recording, bed, thread, time.monotonic() + seconds + WAIT_MARGIN_S
            )
            thread.start()

    @staticmethod
    def _run(fn: Scenario, recording: Recording) -> None:
        try:
            recording.facts = fn(recording.case)
        except BaseException as exc:  # kept for the tests that judge it
            recording.error = exc

    def get(self, name: str, client: str) -> Recording:
        job = self.jobs.get((name, client))
        if job is None:
            raise HarnessError(f"the {name} scenario was never started for {client}")
        job.thread.join(max(0.0, job.deadline - time.monotonic()))
        recording = job.recording
        if job.thread.is_alive():
            recording.error = HarnessError(f"the {name} scenario of {client} did not finish")
        elif recording.evidence is None:
            self._collect(job)
        return recording

    @staticmethod
    def _collect(job: _Job) -> None:
        recording, case = job.recording, job.recording.case
        found = case.evidence()
        log = f"{recording.client} log"
        found.texts = [
            (f"{name} ({recording.scenario} scenario)" if name == log else name, text)
            for name, text in found.texts
        ]
        recording.evidence = found
        case.finish()

    def close(self) -> None:
        for job in self.jobs.values():
            job.thread.join(max(0.0, job.deadline - time.monotonic()))
            if not job.thread.is_alive() and job.recording.evidence is None:
                self._collect(job)
            job.bed.close()
        self.jobs.clear()
