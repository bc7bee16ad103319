"""The report pages in a real headless browser: they load, show the expected counts, and a
screenshot of each is kept in reports/screenshots/."""

import json
import re
import sys
from pathlib import Path

import pytest

from harness.hosts.stack import ref_command
from harness.report.browser import dom, screenshot, visible_text
from tests.test_cli import run_cli

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "reports" / "screenshots"


def follows(lines, *sequence):
    """True if ``sequence`` appears as consecutive entries of ``lines``."""
    return any(lines[i : i + len(sequence)] == list(sequence) for i in range(len(lines)))


def decoded_statuses(stack_dir: Path) -> set[str]:
    """The statuses of the Allure results that carry a tshark decode."""
    statuses = set()
    for path in (stack_dir / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text())
        if any(a["name"] == "decode (tshark)" for a in attachments(result)):
            statuses.add(result["status"])
    return statuses


def loaded_text(page: Path, marker: str) -> list[str]:
    """The page's text once ``marker`` is on it: the Allure app fetches the report's data
    after its shell renders, which on a machine busy with other tests can take longer than
    one virtual-time budget (the shell alone came back once: "Report", "Powered by", ...)."""
    for settle_ms in (10_000, 30_000, 90_000):
        lines = visible_text(page, settle_ms)
        if marker in lines:
            break
    return lines


def attachments(node: dict) -> list[dict]:
    found = list(node.get("attachments", []))
    for step in node.get("steps", []):
        found += attachments(step)
    return found


def test_main_report_loads_and_shows_the_run_counts(tmp_path):
    suite = str(REPO / "suites" / "tcp" / "test_handshake.py")
    result = run_cli("run", "--suite", suite, "--", "-k", "isn_plus_one", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    index = tmp_path / "reports" / "allure-report" / "index.html"
    lines = loaded_text(index, "netconform")
    assert "netconform" in lines
    assert follows(lines, "Total", "2", "Passed", "2"), lines[:40]  # one test, two targets
    assert "linux.sysctl.net.ipv4.tcp_congestion_control" in lines  # the run's environment
    png = screenshot(index, SHOTS / "allure-report.png")
    assert png.stat().st_size > 10_000


def test_matrix_of_reference_template_and_crashing_stack(tmp_path):
    """The reference scores (nearly) everything, the untouched template and a stack that
    exits at start score 0 %, only tests about the stack are in the matrix, and the scores
    are on screen without scrolling at 1400x1000."""
    ref = ref_command("rfc")
    template = f"{sys.executable} {REPO / 'examples' / 'stack_template.py'} --tap {{tap}} " + (
        "--ip {ip}/{prefix} --mac {mac}"
    )
    toml = "".join(
        f'[[stack]]\nname = "{name}"\ncmd = "{cmd}"\n\n'
        for name, cmd in (("reference", ref), ("template", template), ("crashes", "false"))
    )
    (tmp_path / "stacks.toml").write_text(toml)
    out = tmp_path / "matrix"
    # A share of the suites (the suites themselves run against the reference elsewhere): the
    # subnet and DHCP ones are there to show that tests not about the stack are left out.
    suites = [
        "tcp/test_acknowledgement.py",
        "tcp/test_close.py",
        "tcp/test_errors.py",
        "subnet",
        "dhcp",
    ]
    result = run_cli(
        "matrix",
        str(tmp_path / "stacks.toml"),
        *[f"--suite={REPO / 'suites' / suite}" for suite in suites],
        "--out",
        str(out),
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((out / "matrix.json").read_text())
    scores = {s["name"]: s["score"] for s in data["stacks"]}
    assert scores["reference"] >= 0.95, data["stacks"][0]["summary"]
    assert scores["template"] == 0.0 and scores["crashes"] == 0.0, scores
    topics = {r["topic"] for r in data["requirements"]}
    assert "on-link" in topics and "calculator" not in topics  # only tests about the stack
    assert not any(r["key"].startswith("RFC 2131") for r in data["requirements"])
    page = dom(out / "index.html", settle_ms=1000, size="1400,1000")
    bottom = int(re.search(r'data-scores-bottom="(\d+)"', page).group(1))
    assert 0 < bottom <= 1000, f"the score table ends at {bottom} px"
    lines = visible_text(out / "index.html", settle_ms=1000)
    assert "crashes" in lines and "template" in lines
    assert (out / "reference" / "index.html").exists()
    assert (out / "reference" / "allure-report" / "index.html").exists()  # the cells link here
    # tshark decodes only deviations (--decodes=deviations): the reference's WARN, say; not a
    # pass, nor the template's UNSUPPORTED tests (skipped), nor (a run without tests) a crash
    decoded = {stack: decoded_statuses(out / stack) for stack in ("reference", "template")}
    assert decoded["reference"] <= {"failed", "broken"}, decoded
    assert decoded["template"] == set(), decoded
    png = screenshot(out / "index.html", SHOTS / "matrix.png", size="1400,1000", settle_ms=1000)
    assert png.stat().st_size > 5_000
