"""Allure: labels from the requirement, evidence attachments, and the HTML report build."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import allure
from allure_commons.model2 import StatusDetails

from harness.core.doctor import ALLURE_BIN, REPORT_TOOL_DIR
from harness.core.errors import SetupError
from harness.core.link import Frame, write_pcap
from harness.core.requirements import SEVERITY, Requirement
from harness.report import decodes
from harness.report.packets import packet_list

# One self-contained index.html, so that the report opens straight from disk (file://).
ALLURE_CONFIG = REPORT_TOOL_DIR / "allurerc.json"


def label_test(req: Requirement, protocol: str) -> None:
    """epic = protocol, feature = RFC area, story = requirement, severity from the level."""
    allure.dynamic.epic(protocol)
    allure.dynamic.feature(f"RFC {req.rfc} §{req.section.split('.')[0]}")
    allure.dynamic.story(req.story)
    allure.dynamic.severity(SEVERITY[req.level])
    allure.dynamic.tag(req.level)
    allure.dynamic.link(req.url, name=req.title)


MAX_NAME = 180


def safe_name(nodeid: str) -> str:
    """A file name for a test: readable, at most MAX_NAME characters, and unique (a long id
    keeps its start and gets a hash of the whole id, so parametrized tests never collide)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_")
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(nodeid.encode()).hexdigest()[:12]
    return f"{name[: MAX_NAME - 13]}-{digest}"


def safely(what: str, build: Callable[[], object]) -> None:
    """Build one piece of evidence; a failure is attached as text, never raised: evidence
    must not change a test's verdict."""
    try:
        build()
    except Exception as exc:
        attach_text(f"{what} (not built)", f"could not build {what}: {type(exc).__name__}: {exc}")


def attach_evidence(
    nodeid: str,
    frames: Sequence[Frame],
    transcript: Sequence[str],
    pcap_dir: Path,
    transcript_name: str = "control protocol",
    decode: bool = True,
) -> Path:
    """Attach the pcap (with tshark's decode if ``decode``), a readable packet list and the
    control transcript; return the pcap."""
    pcap = pcap_dir / f"{safe_name(nodeid)}.pcap"
    safely("capture.pcap", lambda: _attach_pcap(pcap, frames, decode))
    safely("packets", lambda: attach_text("packets", packet_list(frames)))
    if transcript:
        safely(transcript_name, lambda: attach_text(transcript_name, "\n".join(transcript)))
    return pcap


def _attach_pcap(pcap: Path, frames: Sequence[Frame], decode: bool = True) -> None:
    write_pcap(pcap, frames)
    allure.attach.file(str(pcap), name="capture.pcap", extension="pcap")
    if not decode:
        return
    if decodes.ACTIVE is not None and shutil.which("tshark") is not None:
        # written in the background over this placeholder (harness.report.decodes)
        attach_text("decode (tshark)", decodes.PLACEHOLDER.format(pcap=pcap))
        return
    text = tshark_decode(pcap)
    if text:
        attach_text("decode (tshark)", text)


TSHARK_FRAMES = 300  # the first frames of a capture get Wireshark's full decode
TSHARK_CHARS = 400_000
TSHARK_TIMEOUT_S = 30


def start_decodes(results_dir: Path) -> None:
    """tshark decodes from now on in the background, into ``results_dir``."""
    decodes.start(results_dir, TSHARK_FRAMES, TSHARK_CHARS, TSHARK_TIMEOUT_S)


def tshark_decode(pcap: Path) -> str | None:
    """Wireshark's full decode of a capture's first frames, when tshark is installed."""
    if shutil.which("tshark") is None:
        return None
    try:
        result = subprocess.run(
            ["tshark", "-n", "-r", str(pcap), "-V", "-c", str(TSHARK_FRAMES)],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=TSHARK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"(tshark did not finish within {TSHARK_TIMEOUT_S} s)"
    if result.returncode != 0:
        return None
    return decodes.readable(result.stdout, TSHARK_FRAMES, TSHARK_CHARS)


def attach_svg(name: str, svg: str) -> None:
    allure.attach(svg, name=name, attachment_type=allure.attachment_type.SVG)


def attach_text(name: str, text: str) -> None:
    allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)


CATEGORIES = [
    # Against the baselines first (harness.gate marks them): the first category that matches wins.
    {
        "name": "NEW DEVIATION: not in any baseline (fails the run if a FAIL)",
        "matchedStatuses": ["failed", "passed", "skipped"],
        "messageRegex": "^NEW DEVIATION.*",
    },
    {
        "name": "FIXED: a baseline entry no longer holds (fails the run)",
        "matchedStatuses": ["failed", "passed", "skipped", "broken"],
        "messageRegex": "^FIXED.*",
    },
    {
        "name": "KNOWN DEVIATION: as a baseline says",
        "matchedStatuses": ["failed", "passed", "skipped"],
        "messageRegex": "^KNOWN DEVIATION.*",
    },
    {"name": "FAIL: a MUST is broken", "matchedStatuses": ["failed"]},
    {
        "name": "ERROR: harness or environment (or a target that crashed or hung)",
        "matchedStatuses": ["broken"],
    },
    {
        "name": "UNSUPPORTED: the target lacks the operation or feature",
        "matchedStatuses": ["skipped"],
        "messageRegex": ".*UNSUPPORTED.*",
    },
    {
        "name": "WARN: a SHOULD is broken (passes unless --strict)",
        "matchedStatuses": ["passed"],
        "messageRegex": ".*WARN.*",
    },
]


def attach_environment(env: Mapping[str, str]) -> None:
    """The target's own settings and versions, one ``key = value`` per line."""
    attach_text("target environment", "\n".join(f"{k} = {v}" for k, v in sorted(env.items())))


def write_categories(results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n")


def mark_info(text: str) -> None:
    """INFO: behaviour the RFCs allow that the chosen profile did not predict."""
    allure.dynamic.tag("INFO")
    attach_text("verdict: INFO", text)


def mark_warn(item: Any, message: str) -> None:
    """Put the WARN message into the passed test's Allure status details. allure-pytest has
    no public call for this; without its listener (or if its internals move) nothing happens."""
    listener = item.config.pluginmanager.get_plugin("allure_listener")
    try:
        uuid = listener._cache.get(item.nodeid)
        result = listener.allure_logger.get_test(uuid)
        result.statusDetails = StatusDetails(message=message)
    except AttributeError:
        return


HISTORY_FILE = "history.jsonl"


def _config_with_history(history: Path, report_dir: Path) -> Path:
    """Allure's configuration with ``historyPath`` set, written beside the report."""
    history.mkdir(parents=True, exist_ok=True)
    config = json.loads(ALLURE_CONFIG.read_text())
    config["historyPath"] = str((history / HISTORY_FILE).resolve())
    path = report_dir.parent / f".{report_dir.name}-allurerc.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def mark_outcome(item: Any, prefix: str) -> None:
    """Put ``prefix`` before the test's Allure status message (its category follows)."""
    listener = item.config.pluginmanager.get_plugin("allure_listener")
    try:
        uuid = listener._cache.get(item.nodeid)
        result = listener.allure_logger.get_test(uuid)
        old = result.statusDetails.message if result.statusDetails else ""
        trace = result.statusDetails.trace if result.statusDetails else None
        message = f"{prefix}\n{old}" if old else prefix
        result.statusDetails = StatusDetails(message=message, trace=trace)
    except AttributeError:
        return


def write_environment(results_dir: Path, env: Mapping[str, str]) -> None:
    """environment.properties: what the report shows as the run's environment."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}={value}" for key, value in sorted(env.items())]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n")


def build_html(
    results_dir: Path, report_dir: Path, name: str = "netconform", history: Path | None = None
) -> Path:
    """Build the HTML report with Allure 3 (Node.js, no Java); return index.html. With
    ``history``, the report keeps Allure's history there (history.jsonl): reports built with
    the same folder show trends across runs and each test's earlier results."""
    if not ALLURE_BIN.exists():
        raise SetupError(
            "the Allure 3 report tool is not installed; run `netconform doctor --install`"
        )
    if shutil.which("node") is None:
        raise SetupError("node is not installed; run `netconform doctor --install`")
    if report_dir.exists():
        shutil.rmtree(report_dir)
    result = subprocess.run(
        [
            str(ALLURE_BIN),
            "generate",
            str(results_dir.resolve()),
            "-o",
            str(report_dir.resolve()),
            "--config",
            str(_config_with_history(history, report_dir) if history else ALLURE_CONFIG),
            "--name",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    index = report_dir / "index.html"
    if result.returncode != 0 or not index.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise SetupError("allure generate failed: " + " | ".join(tail))
    return index
