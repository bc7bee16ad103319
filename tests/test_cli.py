"""The netconform command as a user meets it: one-line errors, cleanup, the report."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.core import topology
from tests.processes import descendants_seen, family_of, namespaces_of

CLI = [sys.executable, "-m", "harness.cli"]
REPO = Path(__file__).resolve().parent.parent


def run_cli(*args, env=None, cwd=REPO, timeout=120):
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def assert_one_line_error(result, text):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [lines[0]] and text in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_target_is_one_line():
    result = run_cli("run", "--target", "bogus")
    assert_one_line_error(
        result, "unknown target 'bogus'; known targets: linux, ref, cmd:COMMAND or NAME=cmd:COMMAND"
    )


@pytest.mark.needs_root
def test_missing_system_dependency_is_one_line_and_leaves_no_namespace(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # neither ip nor ethtool on the PATH
    with descendants_seen() as seen:
        result = run_cli("run", "--no-report", env=env)
    assert_one_line_error(result, "missing system dependency: ip (Debian package iproute2)")
    assert namespaces_of(seen) == []


@pytest.mark.needs_root
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed")
def test_running_without_root_is_one_line():
    """As user nobody. The check comes before any third-party import, so the system Python
    with a world-readable copy of the package is enough to reach it."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system python3 to run as nobody")
    copy = Path(tempfile.mkdtemp(prefix="netconform-nobody-"))
    try:
        shutil.copytree(
            REPO / "harness",
            copy / "harness",
            ignore=shutil.ignore_patterns("node_modules", "__pycache__"),
        )
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        cmd += [python, "-m", "harness.cli", "run"]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy)}
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=copy, env=env)
        assert_one_line_error(result, "netconform needs root")
    finally:
        shutil.rmtree(copy)


SLOW_SUITE = """
import time
import pytest

@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_slow(tcp):
    tcp.connect_to_target()
    time.sleep(60)
"""


@pytest.mark.needs_root
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_run_removes_its_namespaces_and_processes(tmp_path, sig):
    suite = tmp_path / "test_slow.py"
    suite.write_text(SLOW_SUITE)
    proc = subprocess.Popen(
        [*CLI, "run", "--no-report", "--workers", "2", "--suite", str(suite)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    mine: list[str] = []
    deadline = time.monotonic() + 60
    while not mine and time.monotonic() < deadline:
        family = family_of(proc.pid)  # the run and its workers (a parallel run)
        mine = [n for n in topology.our_namespaces() if any(f"-{p}-" in n for p in family)]
        time.sleep(0.1)
    assert mine, "the run never created its namespaces"
    agent_pids = topology._pids_in(mine[-1])
    time.sleep(0.5)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (2, 130), out
    assert not [n for n in topology.our_namespaces() if any(f"-{p}-" in n for p in family)]
    for pid in agent_pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


@pytest.mark.needs_root
def test_run_builds_the_html_report(tmp_path):
    """The main job's path: suites run, results written, Allure 3 builds one index.html."""
    suite = REPO / "suites" / "tcp" / "test_handshake.py"
    result = run_cli("run", "--suite", str(suite), "--", "-k", "isn_plus_one", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    index = tmp_path / "reports" / "allure-report" / "index.html"
    assert f"HTML report at {index}" in result.stdout
    summary = json.loads((tmp_path / "reports" / "allure-report" / "summary.json").read_text())
    assert summary["stats"] == {"total": 2, "passed": 2}  # one test, two built-in targets
    assert (tmp_path / "reports" / "junit.xml").exists()
    assert list((tmp_path / "reports" / "pcaps").glob("*.pcap"))
    # each test's tshark decode, made in the background, replaced its placeholder
    texts = [p.read_text() for p in (tmp_path / "reports" / "allure-results").glob("*.txt")]
    assert sum("Frame 1:" in text for text in texts) == 2
    assert not [text for text in texts if text.startswith("(the tshark decode of")]


@pytest.mark.needs_root
def test_two_runs_with_history_make_a_report_with_a_trend_of_two(tmp_path):
    """--history DIR keeps Allure's history: the second report carries the first run."""
    suite = REPO / "suites" / "icmp" / "test_echo.py"
    args = ["run", "--suite", str(suite), "--target", "ref", "--history", "hist"]
    for _ in range(2):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    runs = (tmp_path / "hist" / "history.jsonl").read_text().splitlines()
    assert len(runs) == 2
    html = (tmp_path / "reports" / "allure-report" / "index.html").read_text()
    earlier = re.findall(r'd\("data/history/([0-9a-f-]+)\.json"', html)
    assert earlier == [json.loads(runs[0])["uuid"]]  # the trend: that run, then this one


def test_doctor_lists_every_dependency():
    result = run_cli("doctor")
    for name in ("ip", "ethtool", "tshark", "node", "npm", "allure"):
        assert any(line.startswith(name) for line in result.stdout.splitlines()), result.stdout


def test_subnet_prints_the_seed_example_as_a_table():
    result = run_cli("subnet", "172.16.0.0", "--subnets", "30", "--limit", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "borrow 5 bits: /21 = 255.255.248.0, 32 subnets of 2046 hosts"
    assert lines[3].split() == [
        "172.16.0.0/21",
        "255.255.248.0",
        "172.16.0.1",
        "172.16.7.254",
        "172.16.7.255",
        "2046",
    ]
    assert lines[-1] == "... 30 more (--limit to show more)"


def test_subnet_json_is_machine_readable():
    result = run_cli("subnet", "192.168.10.0/24", "--vlsm", "LAN=100,LINK=2", "--json")
    data = json.loads(result.stdout)
    assert [(row["name"], row["prefixlen"]) for row in data["vlsm"]] == [("LAN", 25), ("LINK", 30)]


def test_subnet_bad_mask_is_one_line():
    result = run_cli("subnet", "10.0.0.0", "255.0.255.0")
    assert_one_line_error(result, "255.0.255.0 is not a contiguous mask")


@pytest.mark.parametrize(
    ("argv", "suites"),
    [
        (["run"], ["suites"]),
        (["run", "--target", "linux"], ["suites/icmp", "suites/subnet", "suites/tcp"]),
        (["run", "--dhcp-server", "kea"], ["suites/dhcp"]),
        (["run", "--target", "ref", "--dhcp-client", "ref"], ["suites"]),
        (["run", "--stress", "100"], ["suites/tcp"]),
    ],
)
def test_run_picks_the_suites_for_the_targets_it_was_given(argv, suites):
    """--target alone runs every suite about host targets (not DHCP); --dhcp-* alone is a
    DHCP run; both, or neither, run every suite; a stress run, the TCP suites."""
    from harness.cli import SUITES_DIR, _default_suites, _parser

    args = _parser().parse_args(argv)
    root = SUITES_DIR.parent
    assert [str(Path(p).relative_to(root)) for p in _default_suites(args)] == suites
