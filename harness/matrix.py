"""``netconform matrix STACKS.toml``: every listed stack through the suites, one at a time,
each in namespaces of its own and under a time limit, then a matrix of stacks x requirements.

    [[stack]]
    name = "alice"
    cmd = "python3 alice/stack.py --tap {tap} --ip {ip}/{prefix} --mac {mac}"
    timeout = 600          # seconds for the whole run of this stack (default 900)

Writes, under the output folder: one folder per stack (Allure results and report, JUnit XML,
pcaps) and index.html, matrix.json and matrix.md. A stack that crashes, hangs or runs out of
time gets ERROR cells; the others go on.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import SetupError
from harness.topology import remove_leftovers

VERDICT_ORDER = ("FAIL", "ERROR", "WARN", "UNSUPPORTED", "INFO", "PASS")  # worst first
COLOURS = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "WARN": "#ef6c00",
    "INFO": "#1565c0",
    "UNSUPPORTED": "#757575",
    "ERROR": "#6a1b9a",
}
DEFAULT_TIMEOUT_S = 900


@dataclass(frozen=True)
class Stack:
    name: str
    cmd: str
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name) or "stack"


@dataclass
class StackResult:
    stack: Stack
    cells: dict[str, str] = field(default_factory=dict)  # requirement -> verdict
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        tested = [v for v in self.cells.values() if v != "UNSUPPORTED"]
        return sum(v in ("PASS", "INFO") for v in tested) / len(tested) if tested else 0.0


def load_stacks(path: Path) -> list[Stack]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SetupError(f"no such file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{path} is not valid TOML: {exc}") from None
    entries = data.get("stack")
    if not isinstance(entries, list) or not entries:
        raise SetupError(f"{path} lists no [[stack]] tables (each with name and cmd)")
    stacks, seen = [], set()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("cmd"):
            raise SetupError(f"{path}: stack #{i} needs a name and a cmd")
        stack = Stack(
            str(entry["name"]), str(entry["cmd"]), float(entry.get("timeout", DEFAULT_TIMEOUT_S))
        )
        if stack.slug in seen:
            raise SetupError(f"{path}: two stacks are named {stack.name!r}")
        seen.add(stack.slug)
        stacks.append(stack)
    return stacks


def run_matrix(
    stacks: list[Stack], suites: list[str], out: Path, extra: Iterable[str] = ()
) -> list[StackResult]:
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for index, stack in enumerate(stacks):
        _progress(index, len(stacks), f"running {stack.name}")
        results.append(_run_stack(stack, suites, out / stack.slug, list(extra)))
        _progress(index + 1, len(stacks), f"{stack.name}: score {results[-1].score:.0%}")
    print(file=sys.stderr)
    write_outputs(results, out)
    return results


def _progress(done: int, total: int, text: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {text}"
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"{line:<90}", end=end, file=sys.stderr, flush=True)


def _run_stack(stack: Stack, suites: list[str], folder: Path, extra: list[str]) -> StackResult:
    results_dir = folder / "allure-results"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in results_dir.glob("*") if results_dir.exists() else []:
        stale.unlink()
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *suites,
        f"--target=cmd:{stack.cmd}",
        f"--alluredir={results_dir}",
        f"--junitxml={folder / 'junit.xml'}",
        f"--pcap-dir={folder / 'pcaps'}",
        "-q",
        "-p",
        "no:cacheprovider",
        *extra,
    ]
    result = StackResult(stack)
    start = time.monotonic()
    log = (folder / "pytest.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        proc.wait(timeout=stack.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the run's own session: its pytest and stack
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        result.note = f"stopped at the time limit of {stack.timeout:g} s"
    finally:
        log.close()
        remove_leftovers()  # a run killed at its limit may not have cleaned up
    result.seconds = time.monotonic() - start
    result.cells, result.counts = collect_verdicts(results_dir)
    if not result.cells and not result.note:
        result.note = f"no results (pytest exit status {proc.returncode}; see pytest.log)"
    _build_report(results_dir, folder / "allure-report", stack.name, result)
    return result


def _build_report(results_dir: Path, report_dir: Path, name: str, result: StackResult) -> None:
    from harness.report.allure_report import build_html

    if not result.cells:
        return
    try:
        build_html(results_dir, report_dir, name=f"netconform: {name}")
    except SetupError as exc:
        result.note = (result.note + "; " if result.note else "") + f"no HTML report: {exc}"


def verdict_of(test: dict[str, Any]) -> str:
    status = test.get("status")
    tags = {label.get("value") for label in test.get("labels", []) if label.get("name") == "tag"}
    if status == "failed":
        return "FAIL"
    if status == "broken":
        return "ERROR"
    if status == "skipped":
        return "UNSUPPORTED"
    if "WARN" in tags:
        return "WARN"
    if "INFO" in tags:
        return "INFO"
    return "PASS" if status == "passed" else "ERROR"


def requirement_key(test: dict[str, Any]) -> str:
    links = test.get("links") or []
    if links and links[0].get("name"):
        return str(links[0]["name"])
    return str(test.get("name", "?"))


def collect_verdicts(results_dir: Path) -> tuple[dict[str, str], dict[str, int]]:
    cells: dict[str, str] = {}
    counts = dict.fromkeys(VERDICT_ORDER, 0)
    for path in sorted(results_dir.glob("*-result.json")) if results_dir.exists() else []:
        test = json.loads(path.read_text())
        verdict = verdict_of(test)
        counts[verdict] += 1
        key = requirement_key(test)
        current = cells.get(key)
        if current is None or VERDICT_ORDER.index(verdict) < VERDICT_ORDER.index(current):
            cells[key] = verdict
    return cells, counts


def write_outputs(results: list[StackResult], out: Path) -> None:
    requirements = sorted({key for r in results for key in r.cells}, key=_requirement_sort)
    data = {
        "requirements": requirements,
        "stacks": [
            {
                "name": r.stack.name,
                "score": round(r.score, 4),
                "counts": r.counts,
                "note": r.note,
                "seconds": round(r.seconds, 1),
                "report": f"{r.stack.slug}/allure-report/index.html",
                "cells": {
                    key: r.cells.get(key, "ERROR" if r.note else "UNSUPPORTED")
                    for key in requirements
                },
            }
            for r in results
        ],
    }
    (out / "matrix.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "matrix.md").write_text(_markdown(data))
    (out / "index.html").write_text(_html(data))


def _requirement_sort(key: str) -> tuple[str, ...]:
    return tuple(part.zfill(6) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def _markdown(data: dict[str, Any]) -> str:
    stacks = data["stacks"]
    lines = [
        "| requirement | " + " | ".join(s["name"] for s in stacks) + " |",
        "|---|" + "---|" * len(stacks),
    ]
    for req in data["requirements"]:
        lines.append(f"| {req} | " + " | ".join(s["cells"][req] for s in stacks) + " |")
    lines.append("| **score** | " + " | ".join(f"**{s['score']:.0%}**" for s in stacks) + " |")
    notes = [f"- {s['name']}: {s['note']}" for s in stacks if s["note"]]
    return "\n".join([*lines, *(["", *notes] if notes else [])]) + "\n"


def _html(data: dict[str, Any]) -> str:
    stacks = data["stacks"]
    head = "".join(
        f'<th><a href="{html.escape(s["report"])}">{html.escape(s["name"])}</a></th>'
        for s in stacks
    )
    rows = []
    for req in data["requirements"]:
        cells = "".join(
            f'<td class="v" style="background:{COLOURS[s["cells"][req]]}">'
            f'<a href="{html.escape(s["report"])}">{s["cells"][req]}</a></td>'
            for s in stacks
        )
        rows.append(f'<tr><th class="req">{html.escape(req)}</th>{cells}</tr>')
    scores = "".join(f'<td class="score">{s["score"]:.0%}</td>' for s in stacks)
    notes = "".join(
        f"<li><b>{html.escape(s['name'])}</b>: {html.escape(s['note'])}</li>"
        for s in stacks
        if s["note"]
    )
    legend = " ".join(
        f'<span class="v" style="background:{c}">{v}</span>' for v, c in COLOURS.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>netconform matrix</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; }}
th.req {{ text-align: left; font-weight: normal; }}
.v {{ color: white; text-align: center; font-size: 12px; padding: 2px 6px; }}
.v a {{ color: white; text-decoration: none; }}
td.score {{ font-weight: bold; text-align: center; }}
</style></head><body>
<h1>netconform matrix</h1>
<p>{len(stacks)} stacks &times; {len(data["requirements"])} requirements. Each cell links to
that stack's Allure report. Legend: {legend}</p>
<table id="matrix"><thead><tr><th>requirement</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody>
<tfoot><tr><th class="req">score (requirements passed / tested)</th>{scores}</tr></tfoot></table>
{f"<ul>{notes}</ul>" if notes else ""}
</body></html>
"""
