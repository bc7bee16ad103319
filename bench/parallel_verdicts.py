"""Benchmark: the main job in parallel (the default) against one serial run, in the same
session: wall times, and whether every test got the same outcome (JUnit) and the same verdict
(verdicts.json) each time. Needs root; run from the repository.

    .venv/bin/python bench/parallel_verdicts.py [--runs 5] [-- netconform run options]

Bar (issue 17): the parallel main job in 3 minutes or less on a 2-core machine, with verdicts
identical to the serial run's in 5 consecutive runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPORTS = Path("reports")
KEEP = Path("reports/bench-parallel")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="parallel runs (default 5)")
    parser.add_argument("options", nargs="*", help="more `netconform run` options, after --")
    args = parser.parse_args()
    KEEP.mkdir(parents=True, exist_ok=True)
    serial = run("serial", ["--workers", "0", *args.options])
    differing = 0
    for index in range(1, args.runs + 1):
        parallel = run(f"parallel-{index}", args.options)
        diffs = compare(serial["folder"], parallel["folder"])
        differing += bool(diffs)
        ratio = parallel["seconds"] / serial["seconds"]
        print(
            f"parallel run {index}: {parallel['seconds']:6.1f} s ({ratio:.0%} of serial), "
            f"exit {parallel['exit']}, {len(diffs)} tests differ from the serial run",
            flush=True,
        )
        for line in diffs[:20]:
            print(f"    {line}")
    print(f"serial run: {serial['seconds']:.1f} s, exit {serial['exit']}")
    print(f"{differing} of {args.runs} parallel runs differ from the serial run")
    return 1 if differing else 0


def run(name: str, options: list[str]) -> dict:
    """One `netconform run` (with the HTML report: it is part of the main job's time)."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.monotonic() - start
    folder = KEEP / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for file in ("junit.xml", "verdicts.json"):
        if (REPORTS / file).exists():
            shutil.copy2(REPORTS / file, folder / file)
    print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return {"folder": folder, "seconds": seconds, "exit": done.returncode}


def outcomes(junit: Path) -> dict[str, str]:
    """Test -> passed, failure, error or skipped, from a JUnit file."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return found


def verdicts(file: Path) -> dict[str, str]:
    return {row["nodeid"]: row["verdict"] for row in json.loads(file.read_text())}


def compare(serial: Path, parallel: Path) -> list[str]:
    """One line per test whose outcome or verdict differs between the two runs."""
    lines = []
    for what, read, file in (
        ("outcome", outcomes, "junit.xml"),
        ("verdict", verdicts, "verdicts.json"),
    ):
        if not (serial / file).exists() or not (parallel / file).exists():
            lines.append(f"{file} missing")
            continue
        one, other = read(serial / file), read(parallel / file)
        for test in sorted(set(one) | set(other)):
            if one.get(test) != other.get(test):
                lines.append(f"{what}: {test}: serial {one.get(test)}, parallel {other.get(test)}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
