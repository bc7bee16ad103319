"""Benchmark: `netconform matrix` of 12 stacks (copies of the reference and of the untouched
template under different names) with --jobs 1 and --jobs 4, and as 3 shards merged; prints
the wall times, the speed-up, and whether the three matrix.json files agree (the stacks'
run times aside). Needs root; run from the repository.

    .venv/bin/python bench/matrix_scale.py [--suite PATH ...] [--stacks 12] [--jobs 4]
                                           [--skip-shards]

With ``--suite suites`` every stack runs what `netconform matrix` runs by default (a reference
copy about 2 minutes, the template seconds); the shard check runs every stack a third time,
``--skip-shards`` leaves it out.

Bar (issue 17): --jobs 4 at least 3 times faster than --jobs 1, the same matrix.json, and
--shard 1/3..3/3 + merge the same matrix.json as one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness.hosts.stack import ref_command

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "examples" / "stack_template.py"
WORK = Path("reports/bench-matrix")
DEFAULT_SUITES = ["suites/tcp/test_handshake.py", "suites/tcp/test_close.py"]
TIMING = ("seconds",)  # what differs between two runs of the same stack by nature


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", help=f"default {' '.join(DEFAULT_SUITES)}")
    parser.add_argument("--stacks", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--skip-shards", action="store_true", help="no --shard runs and merge")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    stacks = write_stacks(WORK / "stacks.toml", args.stacks)
    suites = [f"--suite={REPO / s}" for s in args.suite or DEFAULT_SUITES]
    one = matrix(stacks, "jobs-1", suites, "--jobs", "1")
    many = matrix(stacks, f"jobs-{args.jobs}", suites, "--jobs", str(args.jobs))
    print(f"--jobs 1:          {one:7.1f} s")
    print(f"--jobs {args.jobs}:          {many:7.1f} s   {one / many:.2f}x faster (bar: 3x)")
    same_jobs = same(WORK / "jobs-1", WORK / f"jobs-{args.jobs}")
    print(
        f"matrix.json of --jobs {args.jobs} and --jobs 1: {'the same' if same_jobs else 'DIFFER'}"
    )
    same_shards = args.skip_shards or shards_agree(stacks, suites)
    return 0 if same_jobs and same_shards else 1


def shards_agree(stacks: Path, suites: list[str]) -> bool:
    shard_seconds = 0.0
    for k in (1, 2, 3):
        shard_seconds += matrix(stacks, f"shard-{k}", suites, "--shard", f"{k}/3")
    start = time.monotonic()
    cli(
        "matrix",
        "merge",
        *[str(WORK / f"shard-{k}") for k in (1, 2, 3)],
        "--out",
        str(WORK / "merged"),
    )
    merge_seconds = time.monotonic() - start
    print(f"3 shards + merge:  {shard_seconds:7.1f} s of shards, {merge_seconds:.1f} s to merge")
    same_shards = same(WORK / "jobs-1", WORK / "merged")
    print(
        f"matrix.json of the merged shards and one run: {'the same' if same_shards else 'DIFFER'}"
    )
    return same_shards


def write_stacks(path: Path, count: int) -> Path:
    ref = ref_command("rfc")
    template = f"python3 {TEMPLATE} --tap {{tap}} --ip {{ip}}/{{prefix}} --mac {{mac}}"
    lines = []
    for i in range(count):
        name, cmd = (f"ref-{i:02d}", ref) if i % 2 == 0 else (f"template-{i:02d}", template)
        lines += ["[[stack]]", f"name = {json.dumps(name)}", f"cmd = {json.dumps(cmd)}", ""]
    path.write_text("\n".join(lines))
    return path


def matrix(stacks: Path, name: str, suites: list[str], *options: str) -> float:
    start = time.monotonic()
    cli("matrix", str(stacks), *suites, *options, "--out", str(WORK / name))
    seconds = time.monotonic() - start
    print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return seconds


def cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"netconform {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def comparable(folder: Path) -> dict[str, Any]:
    data = json.loads((folder / "matrix.json").read_text())
    for stack in data["stacks"]:
        for key in TIMING:
            stack.pop(key, None)
    return data


def same(one: Path, other: Path) -> bool:
    a, b = comparable(one), comparable(other)
    if a != b:
        for x, y in zip(a["stacks"], b["stacks"], strict=False):
            if x != y:
                keys = [k for k in x if x.get(k) != y.get(k)]
                print(f"    {x['name']} / {y['name']}: differ in {', '.join(keys)}")
    return a == b


if __name__ == "__main__":
    sys.exit(main())
