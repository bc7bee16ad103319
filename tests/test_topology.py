"""Namespaces and veth pairs: built as harness.core.topology describes, and removed whatever
happens."""

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.core import leftovers, topology, workdirs
from harness.core.errors import TopologyError
from harness.hosts.refstack import open_tap

pytestmark = pytest.mark.needs_root


def namespaces():
    """This process's namespaces (other workers of a parallel run make their own)."""
    return {n for n in topology.our_namespaces() if n.startswith(f"ncf-{os.getpid()}-")}


def test_pair_is_built_with_pinned_sysctls_and_removed():
    before = namespaces()
    topo = topology.create_tester_target()
    try:
        assert set(topo.namespaces) <= namespaces()
        assert topo.sysctls["net.ipv4.tcp_congestion_control"] == "reno"
        assert topo.sysctls["net.ipv6.conf.all.disable_ipv6"] == "1"
        assert topo.tester.mac != topo.target.mac
        neigh = subprocess.run(
            ["ip", "-n", topo.target.netns, "neigh", "show", topo.tester.ip],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert topo.tester.mac in neigh and "PERMANENT" in neigh
        addr = subprocess.run(
            ["ip", "-n", topo.tester.netns, "-4", "addr", "show"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "inet " not in addr, "the tester's side must carry no IP address"
        offload = subprocess.run(
            ["ip", "netns", "exec", topo.target.netns, "ethtool", "-k", "nc-target"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for feature in (
            "tx-checksumming: off",
            "tcp-segmentation-offload: off",
            "generic-segmentation-offload: off",
            "generic-receive-offload: off",
        ):
            assert feature in offload
    finally:
        topo.teardown()
    assert namespaces() == before
    topo.teardown()  # twice is harmless


def link_line(netns: str, ifname: str) -> str:
    return subprocess.run(
        ["ip", "-n", netns, "-d", "link", "show", ifname],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_links_pass_frames_once_the_topology_is_returned():
    """Both veth ends are operationally up and the target's bridge port forwards; the TAP
    only once a process holds it (before that, waiting for it says what is missing)."""
    topo = topology.create_tester_target(tap=True)
    try:
        assert "state UP" in link_line(topo.tester.netns, "nc-tester")
        target_end = link_line(topo.target.netns, "nc-target")
        assert "state UP" in target_end and "state forwarding" in target_end
        with pytest.raises(TopologyError, match=r"nc-tap: operational state DOWN"):
            topology.wait_for_tap(topo, timeout_s=0.2)
        with topology.inside(topo.target.netns):
            tap = open_tap("nc-tap")
        try:
            topology.wait_for_tap(topo)
            tap_port = link_line(topo.target.netns, "nc-tap")
            assert "state UP" in tap_port and "state forwarding" in tap_port
        finally:
            os.close(tap)
    finally:
        topo.teardown()


def test_waiting_for_a_link_lasts_until_its_carrier_comes_on():
    topo = topology.create_tester_target()
    try:
        ns = ["ip", "-n", topo.tester.netns, "link"]
        subprocess.run([*ns, "add", "nc-x0", "type", "veth", "peer", "nc-x1"], check=True)
        subprocess.run([*ns, "set", "nc-x0", "up"], check=True)
        peer_up = threading.Timer(0.3, subprocess.run, ([*ns, "set", "nc-x1", "up"],))
        began = time.monotonic()
        peer_up.start()
        topology.wait_until_passing(topo.tester.netns, ["nc-x0"])
        assert time.monotonic() - began >= 0.3
        assert "state UP" in link_line(topo.tester.netns, "nc-x0")
        peer_up.join()
    finally:
        topo.teardown()


def test_sysctl_that_cannot_be_set_fails_loudly_and_leaves_nothing():
    before = namespaces()
    with pytest.raises(TopologyError, match=r"net\.ipv4\.no_such_knob"):
        topology.create_tester_target(target_sysctls={"net.ipv4.no_such_knob": "1"})
    assert namespaces() == before


def test_root_namespace_sysctl_is_untouched():
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        before = f.read()
    topo = topology.create_tester_target()
    topo.teardown()
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        assert f.read() == before


def test_leftovers_of_a_killed_run_are_removed_by_the_next():
    code = (
        "import os; from harness.core import topology; t = topology.create_tester_target();"
        "print(' '.join(t.namespaces), flush=True); os._exit(9)"  # dies without teardown
    )
    # Other sessions (parallel workers) remove dead runs' leftovers too: not while we look.
    with leftovers.cleanup_held():
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        left = set(out.split())
        assert len(left) == 2 and left <= set(topology.our_namespaces())
        removed = topology.remove_leftovers()
    assert left <= set(removed)
    assert not (left & set(topology.our_namespaces()))


def test_namespaces_of_a_live_run_are_kept():
    topo = topology.create_tester_target()
    try:
        assert not set(topo.namespaces) & set(topology.remove_leftovers())
    finally:
        topo.teardown()


def test_names_carry_the_pid():
    topo = topology.create_tester_target()
    try:
        assert all(f"-{os.getpid()}-" in name for name in topo.namespaces)
    finally:
        topo.teardown()


def test_work_files_and_folders_of_a_dead_run_are_removed_and_a_live_runs_kept():
    """A run killed before its session ended leaves its folders and files (the parallel
    scheduler's pins file, say); the next run removes them, and nothing of a live run."""
    code = (
        "from harness.core.workdirs import make_workdir, make_workfile;"
        "print(make_workdir('probe'), make_workfile('together', '.json'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    dead = [Path(p) for p in out.split()]
    mine = [workdirs.make_workdir("probe"), workdirs.make_workfile("together", ".json")]
    try:
        assert len(dead) == 2 and all(p.exists() for p in dead)
        with leftovers.cleanup_held():
            removed = workdirs.remove_leftovers()
        assert {p.name for p in dead} <= set(removed)
        assert not any(p.exists() for p in dead)
        assert all(p.exists() for p in mine)
    finally:
        shutil.rmtree(mine[0], ignore_errors=True)
        mine[1].unlink(missing_ok=True)
