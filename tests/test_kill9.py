"""A plain pytest run killed with -9 leaves namespaces, processes (a DHCP daemon that changed
credentials ignores its parent-death signal), cgroups and work directories; the next plain
pytest session removes all of them before it starts."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.core import cgroups, leftovers, topology

pytestmark = pytest.mark.needs_root
REPO = Path(__file__).resolve().parent.parent


def leftovers_of(pid: int) -> dict[str, list]:
    namespaces = [n for n in topology.our_namespaces() if n.startswith(f"ncf-{pid}-")]
    processes = [p for n in namespaces for p in topology._pids_in(n)]
    workdirs = sorted(Path(tempfile.gettempdir()).glob(f"netconform-{pid}-*"))
    groups = [
        path for parent in cgroups._hierarchies().values() for path in parent.glob(f"ncf-{pid}-*")
    ]
    return {
        "namespaces": namespaces,
        "processes": processes,
        "workdirs": workdirs,
        "cgroups": groups,
    }


def target_processes(pid: int) -> list[int]:
    names = [n for n in topology.our_namespaces() if n.startswith(f"ncf-{pid}-")]
    return [p for n in names if n.endswith("-target") for p in topology._pids_in(n)]


def alive(pids):
    """The PIDs still running (a zombie waiting for its reaper is not)."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.append(pid)
    return running


def wait_until_going(pid: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # The target runs in its namespace and its cgroup (not a helper that sets a sysctl
        # while the namespaces are being made).
        if leftovers_of(pid)["cgroups"] and target_processes(pid):
            return
        time.sleep(0.2)
    pytest.fail(f"the run never got going: {leftovers_of(pid)}")


@pytest.mark.parametrize(
    "suite",
    [
        ["suites/tcp/test_retransmission.py", "--target=ref"],
        ["suites/dhcp/test_server.py", "--dhcp-server=dnsmasq"],
    ],
    ids=["tcp", "dhcp"],
)
def test_the_next_plain_pytest_removes_what_a_killed_one_left(suite):
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *suite],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_going(run.pid)
    finally:
        # Other sessions on this machine (a parallel run of these tests) remove a dead run's
        # leftovers when they start; they wait while this one looks at what the kill left.
        with leftovers.cleanup_held():
            os.kill(run.pid, signal.SIGKILL)  # the pytest process only, not its session
            run.wait()
            time.sleep(0.5)
            before = leftovers_of(run.pid)
    assert before["namespaces"] and before["cgroups"], f"kill -9 left too little: {before}"
    if "dhcp" in suite[0]:
        assert before["workdirs"], before
    survivors = before["processes"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "tests/test_seqnum.py",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    after = leftovers_of(run.pid)
    assert after == {"namespaces": [], "processes": [], "workdirs": [], "cgroups": []}, after
    deadline = time.monotonic() + 5
    while alive(survivors) and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILL is sent; the kernel takes a moment
    assert alive(survivors) == []
