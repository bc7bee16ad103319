"""The report pages in a real headless browser: they load, show the expected counts, and a
screenshot of each is kept in reports/screenshots/."""

import json
import sys
from pathlib import Path

import pytest

from harness.report.browser import screenshot, visible_text
from tests.test_cli import run_cli

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "reports" / "screenshots"


def follows(lines, *sequence):
    """True if ``sequence`` appears as consecutive entries of ``lines``."""
    return any(lines[i : i + len(sequence)] == list(sequence) for i in range(len(lines)))


def test_main_report_loads_and_shows_the_run_counts(tmp_path):
    suite = str(REPO / "suites" / "tcp" / "test_handshake.py")
    result = run_cli("run", "--suite", suite, "--", "-k", "isn_plus_one", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    index = tmp_path / "reports" / "allure-report" / "index.html"
    lines = visible_text(index)
    assert "netconform" in lines
    assert follows(lines, "Total", "2", "Passed", "2"), lines[:40]  # one test, two targets
    assert "linux.sysctl.net.ipv4.tcp_congestion_control" in lines  # the run's environment
    png = screenshot(index, SHOTS / "allure-report.png")
    assert png.stat().st_size > 10_000


def test_matrix_page_loads_and_shows_every_stack(tmp_path):
    ref = (
        f"{sys.executable} -m harness.targets.refstack --tap {{tap}} --ip {{ip}}/{{prefix}} "
        f"--mac {{mac}} --neighbor {{tester_ip}}={{tester_mac}}"
    )
    toml = f'[[stack]]\nname = "reference"\ncmd = "{ref}"\n\n'
    toml += '[[stack]]\nname = "broken"\ncmd = "false"\n'
    (tmp_path / "stacks.toml").write_text(toml)
    out = tmp_path / "matrix"
    suite = REPO / "suites" / "tcp" / "test_handshake.py"
    result = run_cli(
        "matrix",
        str(tmp_path / "stacks.toml"),
        "--suite",
        str(suite),
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((out / "matrix.json").read_text())
    assert [s["name"] for s in data["stacks"]] == ["reference", "broken"]
    assert [s["score"] for s in data["stacks"]] == [1.0, 0.0]
    lines = visible_text(out / "index.html", settle_ms=1000)
    assert follows(lines, "RFC 9293 §3.10.7.2 (MUST)", "PASS", "ERROR")
    assert follows(lines, "score (requirements passed / tested)", "100%", "0%")
    assert (out / "reference" / "allure-report" / "index.html").exists()  # the cells link here
    png = screenshot(out / "index.html", SHOTS / "matrix.png", size="1000,500", settle_ms=1000)
    assert png.stat().st_size > 5_000
