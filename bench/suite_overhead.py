"""Benchmark: where a full run's time goes. Runs the main job (in parallel, as by default)
with a probe in every worker and prints, against the wall time:

- the time the tests spend waiting on the network, the target or the clock (the main thread
  blocked in select, sleep or a join: the scenarios' protocol waits, timers and bounds, and
  the control protocol's answers), summed over all tests;
- the fixed cost per test: set-up (bed creation counted apart), the test's own computing,
  teardown (capture, evidence, report attachments), and the beds made (namespaces, target
  start) with their total.

    .venv/bin/python bench/suite_overhead.py [-- netconform run options, e.g. --workers 0]

Waiting is measured, not declared: a test that waits longer than its RFC bound needs shows up
as waiting, which is what a parallel run hides.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = "suite_overhead_probe"


def main() -> int:
    options = sys.argv[1:]
    records_dir = Path(tempfile.mkdtemp(prefix="netconform-overhead-"))
    env = {
        **os.environ,
        "PYTHONPATH": f"{Path(__file__).parent}:{os.environ.get('PYTHONPATH', '')}",
        "NETCONFORM_OVERHEAD_DIR": str(records_dir),
    }
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--no-report", *options, "--", "-p", PROBE],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )
    wall = time.monotonic() - start
    tests = read_records(records_dir)
    shutil.rmtree(records_dir, ignore_errors=True)
    print(f"run: exit {done.returncode}, wall {wall:.1f} s, {len(tests)} tests")
    report(tests, wall)
    return 0


PHASES = ("setup", "call", "teardown")


def read_records(folder: Path) -> list[dict[str, float]]:
    tests = []
    for file in folder.glob("*.jsonl"):
        for line in file.read_text().splitlines():
            record = json.loads(line)
            if record.pop("kind") == "test":
                nodeid = record.pop("nodeid")
                filled = {key: 0.0 for p in PHASES for key in (p, f"{p}_waiting")} | record
                tests.append({"nodeid": nodeid, **filled})
    return tests


def split(test: dict) -> dict[str, float]:
    """A test's time in parts that do not overlap."""
    waiting = sum(test[f"{p}_waiting"] for p in PHASES) - test["beds_waiting"]
    return {
        "waiting": waiting,
        "beds": test["beds"],
        "setup": test["setup"] - test["beds"] - (test["setup_waiting"] - test["beds_waiting"]),
        "computing": test["call"] - test["call_waiting"],
        "teardown": test["teardown"] - test["teardown_waiting"],
    }


LABELS = {
    "waiting": "waiting (network, target, clock)",
    "beds": "beds made (namespaces, target start)",
    "setup": "set-up, besides beds and waiting",
    "computing": "computing in the tests",
    "teardown": "teardown (capture, evidence)",
}


def report(tests: list[dict], wall: float) -> None:
    if not tests:
        print("no test records: did the run start?")
        return
    parts = {name: sum(split(t)[name] for t in tests) for name in LABELS}
    total = sum(parts.values())
    print(f"sum of the tests' own time: {total:8.1f} s ({total / wall:.1f} x the wall time)")
    for name, label in LABELS.items():
        print(f"  {label:<38} {parts[name]:8.1f} s  {parts[name] / total:6.1%}")
    fixed = (total - parts["waiting"]) / len(tests)
    print(f"fixed cost per test (all but waiting): {fixed * 1000:.0f} ms on average")
    print("largest fixed cost:")
    for test in sorted(tests, key=lambda t: split(t)["waiting"] - sum(split(t).values()))[:5]:
        print(f"  {sum(split(test).values()) - split(test)['waiting']:6.2f} s  {test['nodeid']}")


if __name__ == "__main__":
    sys.exit(main())
