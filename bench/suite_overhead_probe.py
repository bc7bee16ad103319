"""The probe of bench/suite_overhead.py, loaded into every pytest process with ``-p``: the main
thread's blocked time per test phase (select, sleep, join) and every bed the pool makes, one
JSON line each into $NETCONFORM_OVERHEAD_DIR."""

from __future__ import annotations

import json
import os
import select
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.core import bedpool

FOLDER = Path(os.environ.get("NETCONFORM_OVERHEAD_DIR", "/tmp"))
OUT = FOLDER / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}.jsonl"
blocked = [0.0]  # seconds the main thread spent blocked so far


def _timed(function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return function(*args, **kwargs)
        start = time.monotonic()
        try:
            return function(*args, **kwargs)
        finally:
            blocked[0] += time.monotonic() - start

    return wrapper


select.select = _timed(select.select)
time.sleep = _timed(time.sleep)
threading.Thread.join = _timed(threading.Thread.join)  # type: ignore[method-assign]


def _write(record: dict[str, Any]) -> None:
    with OUT.open("a") as out:
        out.write(json.dumps(record) + "\n")


_original_get = bedpool.BedPool.get


beds = {"seconds": 0.0, "blocked": 0.0}  # of the beds made so far


def _timed_get(self: bedpool.BedPool, key: Any, make: Any) -> Any:
    def timed_make() -> Any:
        start, before = time.monotonic(), blocked[0]
        try:
            return make()
        finally:
            seconds = time.monotonic() - start
            beds["seconds"] += seconds
            beds["blocked"] += blocked[0] - before
            _write({"kind": "bed", "key": repr(key), "seconds": seconds})

    return _original_get(self, key, timed_make)


bedpool.BedPool.get = _timed_get  # type: ignore[method-assign]

phases: dict[str, dict[str, float]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    phases[item.nodeid] = {}
    bed_seconds, bed_blocked = beds["seconds"], beds["blocked"]
    yield
    record = phases.pop(item.nodeid)
    record["beds"] = beds["seconds"] - bed_seconds
    record["beds_waiting"] = beds["blocked"] - bed_blocked
    _write({"kind": "test", "nodeid": item.nodeid, **record})


def _phase(name: str) -> Any:
    """Each phase's time and the main thread's blocked time in it."""

    @pytest.hookimpl(hookwrapper=True)
    def hook(item: pytest.Item, *args: Any) -> Any:
        start, before = time.monotonic(), blocked[0]
        yield
        record = phases.setdefault(item.nodeid, {})
        record[name] = time.monotonic() - start
        record[f"{name}_waiting"] = blocked[0] - before

    return hook


pytest_runtest_setup = _phase("setup")
pytest_runtest_call = _phase("call")
pytest_runtest_teardown = _phase("teardown")
