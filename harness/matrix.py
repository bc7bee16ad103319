"""``netconform matrix STACKS.toml``: every listed stack through the suites, one at a time,
each in namespaces of its own and under a time limit, then a matrix of stacks x requirements.

    [[stack]]
    name = "alice"
    cmd = "python3 alice/stack.py --tap {tap} --ip {ip}/{prefix} --mac {mac}"
    timeout = 600          # seconds for the whole run of this stack (default 900)
    start_timeout = 60     # seconds from start to its answer to hello (default 30)
    baseline = "alice.toml"  # its known deviations, beside this file (optional)

Only the tests whose subject is the stack run (the TCP, ICMP and on-link suites; not the subnet
calculator's or the DHCP daemons'). A stack's score is the requirements it passed over the
requirements the suites checked: UNSUPPORTED and ERROR count as not passed and are shown
beside the score, so that an empty template and a stack that crashes at start score 0 %.

Writes, under the output folder: one folder per stack (its page index.html, Allure results
and report, verdicts.json, JUnit XML, pcaps, pytest log) and index.html, matrix.json and
matrix.md. A stack that crashes, hangs or runs out of time gets ERROR cells; the others go on.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core import verdicts
from harness.core.errors import SetupError
from harness.core.leftovers import remove_dead_runs
from harness.core.verdicts import PASSING, VERDICTS, TestVerdict, summary
from harness.report.matrix_page import TOPICS, markdown, matrix_html, stack_html

VERDICT_ORDER = ("FAIL", "ERROR", "WARN", "UNSUPPORTED", "INFO", "PASS")  # worst first
DEFAULT_TIMEOUT_S = 900.0
DEFAULT_START_TIMEOUT_S = 30.0
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Stack:
    name: str
    cmd: str
    timeout: float = DEFAULT_TIMEOUT_S
    start_timeout: float = DEFAULT_START_TIMEOUT_S
    baseline: Path | None = None  # its known deviations (harness.core.baseline)

    @property
    def slug(self) -> str:
        """A folder and target name: the name's safe characters, at most 40."""
        slug = _SLUG_UNSAFE.sub("_", self.name).strip("_.-")[:40]
        return slug if slug and slug[0].isalnum() else f"stack-{slug}".strip("-")


@dataclass
class StackResult:
    stack: Stack
    tests: list[TestVerdict] = field(default_factory=list)
    note: str = ""  # why the run ended early, or why there are no results
    seconds: float = 0.0

    @property
    def cells(self) -> dict[str, str]:
        """Requirement -> the worst verdict among the tests that check it."""
        cells: dict[str, str] = {}
        for test in self.tests:
            key = test.requirement or test.test
            current = cells.get(key)
            if current is None or _worse(test.verdict, current):
                cells[key] = test.verdict
        return cells

    @property
    def crash(self) -> str:
        """The reason most of the stack's tests could not run, when one stands out."""
        errors = [t.message for t in self.tests if t.verdict == "ERROR" and t.message]
        if not errors or len(errors) < len(self.tests) / 2:
            return ""
        return Counter(errors).most_common(1)[0][0]

    def reasons(self) -> dict[str, str]:
        """Requirement -> the one-line reason of its worst test (for the cell's tooltip)."""
        cells, out = self.cells, {}
        for test in self.tests:
            key = test.requirement or test.test
            if test.verdict == cells[key] and key not in out:
                line = (test.message or test.verdict).strip().splitlines()
                out[key] = f"{test.test}: {line[0] if line else test.verdict}"[:300]
        return out


def _worse(a: str, b: str) -> bool:
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return order.get(a, 0) < order.get(b, 0)


# -- the stacks file -------------------------------------------------------------------------


def load_stacks(path: Path) -> list[Stack]:
    """Read and check the stacks file; every problem is one SetupError naming the stack."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SetupError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise SetupError(f"{path} is a directory, not a stacks file") from None
    except UnicodeDecodeError:
        raise SetupError(f"{path} is not a text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("stack")
    if not isinstance(entries, list) or not entries:
        raise SetupError(f"{path} lists no [[stack]] tables (each with name and cmd)")
    stacks, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        stack = _stack(path, i, entry)
        if stack.slug in seen:
            raise SetupError(f"{path}: two stacks are named {stack.name!r}")
        seen.add(stack.slug)
        stacks.append(stack)
    return stacks


def _stack(path: Path, i: int, entry: object) -> Stack:
    if not isinstance(entry, dict):
        raise SetupError(f"{path}: stack #{i} is not a table")
    name, cmd = entry.get("name"), entry.get("cmd")
    if not isinstance(name, str) or not name.strip():
        raise SetupError(f"{path}: stack #{i} needs a name (a string)")
    if not isinstance(cmd, str) or not cmd.strip():
        raise SetupError(f"{path}: stack {name!r} needs a cmd (a string)")
    unknown = set(entry) - {"name", "cmd", "timeout", "start_timeout", "baseline"}
    if unknown:
        raise SetupError(f"{path}: stack {name!r} has unknown key(s) {', '.join(sorted(unknown))}")
    from harness.hosts.spec import parse_target

    parse_target(f"cmd:{cmd}")  # placeholders and quoting, before anything runs
    return Stack(
        name,
        cmd,
        _seconds(path, name, entry, "timeout", DEFAULT_TIMEOUT_S, 7 * 86400),
        _seconds(path, name, entry, "start_timeout", DEFAULT_START_TIMEOUT_S, 3600),
        _baseline(path, name, entry),
    )


def _baseline(path: Path, name: str, entry: dict[str, Any]) -> Path | None:
    """The stack's ``baseline`` file, relative to the stacks file, checked now."""
    value = entry.get("baseline")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SetupError(f"{path}: stack {name!r}: baseline is a file name (a string)")
    file = (path.parent / value).resolve()
    from harness.core import baseline

    baseline.load([file])  # a missing or broken file is one clear error, before anything runs
    return file


def _seconds(path: Path, name: str, entry: dict, key: str, default: float, most: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SetupError(f"{path}: stack {name!r}: {key} must be a number of seconds")
    if not 0 < value <= most:
        raise SetupError(f"{path}: stack {name!r}: {key} must be above 0 and at most {most:g}")
    return float(value)


# -- running ----------------------------------------------------------------------------------


def shard_of(stacks: list[Stack], shard: tuple[int, int]) -> list[Stack]:
    """The K-th of N shares of the stacks file: every N-th stack from the K-th, so that the
    shares are alike whatever order the file lists its stacks in."""
    k, n = shard
    return stacks[k - 1 :: n]


def run_matrix(
    stacks: list[Stack],
    suites: list[str],
    out: Path,
    extra: Iterable[str] = (),
    jobs: int = 1,
    order: Sequence[Stack] | None = None,
) -> list[StackResult]:
    """Run the stacks, ``jobs`` at a time (each its own pytest process and namespaces);
    ``order`` is the whole stacks file when these are one shard of it."""
    out.mkdir(parents=True, exist_ok=True)
    position = {stack.slug: i for i, stack in enumerate(order or stacks)}
    done: list[StackResult] = []
    lock = threading.Lock()

    def run(stack: Stack) -> StackResult:
        result = _run_stack(stack, suites, out / stack.slug, list(extra), position[stack.slug])
        with lock:
            done.append(result)
            _progress(len(done), len(stacks), f"{stack.name}: {summary(result.cells)}")
        return result

    _progress(0, len(stacks), f"running {len(stacks)} stacks, {jobs} at a time")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(run, stacks))
    print(file=sys.stderr)
    return results


def _progress(done: int, total: int, text: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text}"
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"{line:<100}", end=end, file=sys.stderr, flush=True)


def _run_stack(
    stack: Stack, suites: list[str], folder: Path, extra: list[str], position: int = 0
) -> StackResult:
    results_dir = folder / "allure-results"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*results_dir.glob("*"), folder / "verdicts.json", folder / STACK_FILE]:
        stale.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *suites,
        f"--target={stack.slug}=cmd:{stack.cmd}",
        "--target-tests-only",
        f"--start-timeout={stack.start_timeout:g}",
        f"--verdicts={folder / 'verdicts.json'}",
        f"--alluredir={results_dir}",
        f"--junitxml={folder / 'junit.xml'}",
        f"--pcap-dir={folder / 'pcaps'}",
        "--decodes=deviations",  # tshark for every passing test of every stack: CPU for hours
        *([f"--baseline={stack.baseline}"] if stack.baseline else []),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",  # the suites have no property tests; its summary costs 1 s of CPU
        "--numprocesses=0",  # one process per stack: --jobs runs stacks side by side
        *extra,
    ]
    result = StackResult(stack)
    start = time.monotonic()
    with (folder / "pytest.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=stack.timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            result.note = f"stopped at the time limit of {stack.timeout:g} s"
        finally:
            remove_dead_runs()  # a run killed at its limit may not have cleaned up
    result.seconds = time.monotonic() - start
    if (folder / "verdicts.json").exists():
        result.tests = list(verdicts.read(folder / "verdicts.json").values())
    if not result.tests and not result.note:
        result.note = f"no results (pytest exit status {proc.returncode}; see pytest.log)"
    _build_report(results_dir, folder / "allure-report", stack.name, result)
    _write_stack_file(folder, result, position)
    return result


# -- shards and merging -----------------------------------------------------------------------

STACK_FILE = "stack.json"  # what a merge needs of a stack's run besides its verdicts


def _write_stack_file(folder: Path, result: StackResult, position: int) -> None:
    stack = result.stack
    info = {"name": stack.name, "cmd": stack.cmd, "position": position}
    info |= {"note": result.note, "seconds": round(result.seconds, 1)}
    (folder / STACK_FILE).write_text(json.dumps(info, indent=2) + "\n")


def read_results(folders: Iterable[Path]) -> list[StackResult]:
    """The stacks run under the given matrix folders (one per shard), in the order of their
    stacks file; a stack found twice is an error (two shards of different splits)."""
    found: dict[str, tuple[int, StackResult]] = {}
    for folder in folders:
        if not folder.is_dir():
            raise SetupError(f"no such matrix folder: {folder}")
        for info_file in sorted(folder.glob(f"*/{STACK_FILE}")):
            position, result = _read_result(info_file)
            if result.stack.slug in found:
                raise SetupError(f"{result.stack.name!r} is in two of the folders given")
            found[result.stack.slug] = (position, result)
    if not found:
        raise SetupError(
            "no stack results in the folders given (each stack folder has a "
            f"{STACK_FILE}); run `netconform matrix STACKS --shard K/N --out DIR`"
        )
    return [result for _, result in sorted(found.values(), key=lambda pair: pair[0])]


def _read_result(info_file: Path) -> tuple[int, StackResult]:
    try:
        info = json.loads(info_file.read_text())
        result = StackResult(Stack(str(info["name"]), str(info["cmd"])))
        result.note, result.seconds = str(info["note"]), float(info["seconds"])
        verdicts_file = info_file.parent / "verdicts.json"
        if verdicts_file.exists():
            result.tests = list(verdicts.read(verdicts_file).values())
        return int(info["position"]), result
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SetupError(f"{info_file} is not a stack's result: {exc}") from None


def merge(folders: list[Path], out: Path) -> list[StackResult]:
    """The shards' stack folders under ``out`` (copied unless they are there already), and
    one Allure report over all their results (Allure merges result folders as they are)."""
    results = read_results(folders)
    out.mkdir(parents=True, exist_ok=True)
    combined = out / "allure-results"
    shutil.rmtree(combined, ignore_errors=True)
    combined.mkdir()
    for folder in folders:
        for stack_folder in sorted(p.parent for p in folder.glob(f"*/{STACK_FILE}")):
            target = out / stack_folder.name
            if stack_folder.resolve() != target.resolve():
                shutil.copytree(stack_folder, target, dirs_exist_ok=True)
            for result_file in (stack_folder / "allure-results").glob("*"):
                if result_file.name != "environment.properties":  # each stack's own
                    shutil.copy2(result_file, combined / result_file.name)
    return results


def build_combined_report(out: Path) -> Path | None:
    """One Allure report of every stack (``out``/allure-report), from ``merge``."""
    from harness.report.allure_report import build_html

    if not any((out / "allure-results").glob("*-result.json")):
        return None
    return build_html(out / "allure-results", out / "allure-report", name="netconform matrix")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the run's own session: its pytest and stack
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _build_report(results_dir: Path, report_dir: Path, name: str, result: StackResult) -> None:
    from harness.report.allure_report import build_html

    if not result.tests:
        return
    try:
        build_html(results_dir, report_dir, name=f"netconform: {name}")
    except SetupError as exc:
        result.note = (result.note + "; " if result.note else "") + f"no HTML report: {exc}"


# -- outputs ----------------------------------------------------------------------------------


def matrix_data(results: Sequence[StackResult]) -> dict[str, Any]:
    """Everything the pages show, as JSON-ready data (matrix.json)."""
    requirements = _requirements(results)
    keys = [r["key"] for r in requirements]
    stacks = [_stack_data(result, keys) for result in results]
    return {"requirements": requirements, "stacks": stacks}


def _requirements(results: Sequence[StackResult]) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for result in results:
        for test in result.tests:
            key = test.requirement or test.test
            found.setdefault(key, {"key": key, "summary": test.summary, "topic": test.topic})
    rank = {topic: i for i, topic in enumerate(TOPICS)}
    return sorted(found.values(), key=lambda r: (rank.get(r["topic"], len(TOPICS)), _natural(r)))


def _natural(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(p.zfill(6) if p.isdigit() else p for p in re.split(r"(\d+)", row["key"]))


def _stack_data(result: StackResult, keys: list[str]) -> dict[str, Any]:
    own = result.cells
    missing = "ERROR" if result.note else "UNSUPPORTED"  # a run cut short did not reach it
    cells = {key: own.get(key, missing) for key in keys}
    counts = {v: sum(1 for c in cells.values() if c == v) for v in VERDICTS}
    passed = sum(counts[v] for v in PASSING)
    return {
        "name": result.stack.name,
        "slug": result.stack.slug,
        "score": round(passed / len(keys), 4) if keys else 0.0,
        "passed": passed,
        "checked": len(keys),
        "summary": summary(cells),
        "counts": counts,
        "note": result.note,
        "crash": result.crash,
        "seconds": round(result.seconds, 1),
        "report": f"{result.stack.slug}/allure-report/index.html",
        "page": f"{result.stack.slug}/index.html",
        "cells": cells,
        "reasons": result.reasons(),
    }


def write_outputs(results: list[StackResult], out: Path) -> dict[str, Any]:
    """matrix.json, matrix.md, index.html and each stack's page; returns the data."""
    data = matrix_data(results)
    (out / "matrix.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "matrix.md").write_text(markdown(data))
    (out / "index.html").write_text(matrix_html(data))
    for result, stack in zip(results, data["stacks"], strict=True):
        folder = out / result.stack.slug
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "index.html").write_text(stack_html(stack, result.tests))
    return data
