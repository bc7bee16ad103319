"""How a parallel run spreads its tests (harness.core.schedule) and keeps its beds
(harness.core.bedpool): the worker count, the order, the scheduler's hand-outs."""

import json

import pytest

from harness.core.bedpool import BedPool
from harness.core.schedule import Durations, LongestFirst, auto_workers, read_durations


@pytest.mark.parametrize(("cpus", "workers"), [(1, 4), (2, 6), (3, 8), (16, 8)])
def test_auto_workers_are_three_per_core_between_4_and_8(cpus, workers):
    assert auto_workers(cpus) == workers


def test_an_unknown_test_is_guessed_from_its_other_targets_else_one_second():
    durations = Durations({"t.py::a[ref]": 10.0, "t.py::a[linux]": 20.0, "t.py::a[x]": 30.0})
    assert durations.seconds("t.py::a[ref]") == 10.0
    assert durations.seconds("t.py::a[mine]") == 20.0  # the median of its other targets
    assert durations.seconds("t.py::b[ref]") == 1.0


@pytest.mark.parametrize("text", ["", "[1, 2]", "{", '{"a": "slow"}'])
def test_a_broken_durations_file_only_loses_the_order(tmp_path, text):
    path = tmp_path / "d.json"
    path.write_text(text)
    assert read_durations(path) == {}
    assert read_durations(tmp_path / "missing.json") == {}


CLOSED: list[str] = []


class FakeBed:
    def __init__(self, name):
        self.name = name
        self.retired = ""

    def close(self):
        CLOSED.append(self.name)


def test_the_pool_makes_a_bed_once_remembers_a_failure_and_closes_the_last_first():
    pool, made = BedPool(), []

    def make(name):
        made.append(name)
        if name == "broken":
            raise RuntimeError("no such daemon")
        return FakeBed(name)

    first = pool.get("a", lambda: make("a"))
    assert pool.get("a", lambda: make("a")) is first
    pool.get("b", lambda: make("b"))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="no such daemon"):
            pool.get("broken", lambda: make("broken"))
    assert made == ["a", "b", "broken"]
    CLOSED.clear()
    pool.close()
    assert CLOSED == ["b", "a"]


def test_a_retired_bed_is_closed_and_the_next_test_gets_a_new_one():
    pool = BedPool()
    first = pool.get("linux", lambda: FakeBed("first"))
    first.retired = "it learnt a path MTU"
    CLOSED.clear()
    second = pool.get("linux", lambda: FakeBed("second"))
    assert second is not first and CLOSED == ["first"]
    assert pool.get("linux", lambda: FakeBed("third")) is second


class FakeConfig:
    def __init__(self, nodes):
        self.options = {"tx": ["popen"] * nodes, "maxschedchunk": None}

    def getvalue(self, name):
        return self.options[name]

    getoption = getvalue


class FakeNode:
    def __init__(self, name):
        self.gateway = type("Gateway", (), {"id": name})()
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices):
        self.sent.extend(indices)

    def shutdown(self):
        self.shutting_down = True


def test_the_scheduler_sends_pinned_tests_to_the_first_worker_and_the_rest_in_order(tmp_path):
    collection = [f"t.py::test_{i}" for i in range(10)]
    pins = tmp_path / "pins.json"
    pins.write_text(json.dumps(["t.py::test_0", "t.py::test_1", "t.py::test_2"]))
    scheduler = LongestFirst(FakeConfig(2), pins=pins)
    nodes = [FakeNode("gw0"), FakeNode("gw1")]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, collection)
    scheduler.schedule()
    assert nodes[0].sent == [0, 1, 2]  # pinned, and it holds two or more: nothing else yet
    assert nodes[1].sent == [3, 4]  # the next two in collection order
    scheduler.mark_test_complete(nodes[1], 3)
    assert nodes[1].sent == [3, 4, 5]  # topped up to two, one at a time
    for index in (0, 1):
        scheduler.mark_test_complete(nodes[0], index)
    assert nodes[0].sent == [0, 1, 2, 6]
    while scheduler.pending:
        node = min(nodes, key=lambda n: len(scheduler.node2pending[n]))
        scheduler.mark_test_complete(node, scheduler.node2pending[node][0])
    sent = sorted(nodes[0].sent + nodes[1].sent)
    assert sent == list(range(10))  # every test once
