"""How a parallel run (pytest-xdist) spreads the tests over its workers.

The suites wait far more than they compute: timers, bounds, a client's lease. So a run uses
more workers than cores (``auto``: three per core, at least 4, at most 8), each with beds of
its own, and hands the tests out longest first, one or two at a time, so that no long wait is
left for the end. The recorded DHCP scenarios (harness.dhcp.recorded) all run side by side in
the one process that records them: their tests go together to the first worker, which starts
the recordings at once and judges them while the other workers do the rest.

How long a test takes comes from the last run here (``reports/durations.json``, written at
the end of every run) over the durations shipped beside this file (measured on a 2-core
machine) and any named by the ``netconform_durations`` ini option (a project's own tests);
a test none of them knows is guessed from its other targets, else one second.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]
from xdist.workermanage import WorkerController  # type: ignore[import-untyped]

from harness.core.workdirs import make_workfile

SHIPPED_DURATIONS = Path(__file__).with_name("durations.json")
LAST_DURATIONS = Path("reports/durations.json")
DEFAULT_SECONDS = 1.0
TOGETHER_MARK = "recorded"  # tests that judge one shared background recording
PINS_KEY = "netconform_together"
DURATIONS_INI = "netconform_durations"


def auto_workers(cpus: int | None = None) -> int:
    """Workers for waiting-bound tests: three per core, between 4 and 8."""
    return max(4, min(8, 3 * (cpus or os.cpu_count() or 1)))


def in_parallel_run(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput") or bool(config.getoption("numprocesses", 0))


# -- durations --------------------------------------------------------------------------------


def test_name(nodeid: str) -> str:
    """A test's name without its parameters: what its other targets share."""
    return nodeid.split("[", 1)[0]


class Durations:
    """Seconds per test id, with a guess for tests measured under another target only."""

    def __init__(self, known: dict[str, float]) -> None:
        self.known = known
        by_name: dict[str, list[float]] = {}
        for nodeid, seconds in known.items():
            by_name.setdefault(test_name(nodeid), []).append(seconds)
        self.by_name = {name: statistics.median(values) for name, values in by_name.items()}

    @classmethod
    def load(cls, paths: Sequence[Path] = (SHIPPED_DURATIONS, LAST_DURATIONS)) -> Durations:
        known: dict[str, float] = {}
        for path in paths:
            known.update(read_durations(path))
        return cls(known)

    def seconds(self, nodeid: str) -> float:
        if nodeid in self.known:
            return self.known[nodeid]
        return self.by_name.get(test_name(nodeid), DEFAULT_SECONDS)


def read_durations(path: Path) -> dict[str, float]:
    """A durations file, or nothing when it is missing or not one (it only orders tests)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def write_durations(path: Path, measured: dict[str, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rounded = {nodeid: round(seconds, 2) for nodeid, seconds in sorted(measured.items())}
    path.write_text(json.dumps(rounded, indent=0) + "\n")


# -- the order of the tests -------------------------------------------------------------------


def together(item: pytest.Item) -> bool:
    return item.get_closest_marker(TOGETHER_MARK) is not None


def longest_first(items: list[pytest.Item], durations: Durations) -> None:
    """Tests that belong together first, then the rest by expected time, longest first
    (sorted in place; ties keep the file order)."""
    items.sort(key=lambda item: (not together(item), -durations.seconds(item.nodeid)))


def write_together(config: pytest.Config, items: Iterable[pytest.Item]) -> None:
    """The first worker tells the scheduler which tests go together (by a file the controller
    named: xdist sends only test ids from worker to controller before the run)."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    path = workerinput.get(PINS_KEY)
    if not path or workerinput.get("workerid") != "gw0":
        return
    Path(path).write_text(json.dumps([item.nodeid for item in items if together(item)]))


# -- the scheduler ----------------------------------------------------------------------------

# xdist runs a test when the next one is known (for the fixtures' teardown), so a worker
# holds two: the one running and the next.
QUEUE = 2


class LongestFirst(LoadScheduling):
    """xdist's load scheduling, handing out tests in collection order (longest first) two at a
    time, with the tests that belong together all sent to the first worker at the start."""

    def __init__(self, config: pytest.Config, log: Any = None, pins: Path | None = None) -> None:
        super().__init__(config, log)
        self.collection: list[str] | None = None
        self.pins = pins

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:
            for node in self.nodes:
                self.check_schedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        collection: list[str] = next(iter(self.node2collection.values()))
        self.collection = collection
        pinned = self._pinned(collection)
        self.pending[:] = [i for i in range(len(collection)) if i not in pinned]
        if pinned:
            first = self.nodes[0]
            self.node2pending[first].extend(sorted(pinned))
            first.send_runtest_some(sorted(pinned))
        for node in self.nodes:
            self.check_schedule(node)

    def _pinned(self, collection: list[str]) -> set[int]:
        ids = set(json.loads(self.pins.read_text())) if self.pins and self.pins.exists() else ()
        return {i for i, nodeid in enumerate(collection) if nodeid in ids}

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not self.pending:
            node.shutdown()
            return
        missing = QUEUE - len(self.node2pending[node])
        if missing > 0:
            self._send_tests(node, missing)


# -- the plugin -------------------------------------------------------------------------------


class ParallelRun:
    """Orders the tests of a parallel run, schedules them, and keeps every run's durations."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.measured: dict[str, float] = {}
        self.pins: Path | None = None

    def _pins_file(self) -> Path:
        if self.pins is None:
            self.pins = make_workfile("together", ".json")  # a killed run's goes with the rest
        return self.pins

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: WorkerController) -> None:
        node.workerinput[PINS_KEY] = str(self._pins_file())

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getoption("dist") != "load":
            return None  # a distribution the user chose stays theirs
        return LongestFirst(config, log, self._pins_file())

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if in_parallel_run(config):
            files = [SHIPPED_DURATIONS, *config.getini(DURATIONS_INI), LAST_DURATIONS]
            longest_first(items, Durations.load(files))
            write_together(config, items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.measured[report.nodeid] = self.measured.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        if self.pins is not None:
            self.pins.unlink(missing_ok=True)
        if self.measured and not hasattr(self.config, "workerinput"):
            with contextlib.suppress(OSError):  # a read-only checkout still runs
                write_durations(LAST_DURATIONS, self.measured)
