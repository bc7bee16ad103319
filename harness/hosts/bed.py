"""A target on its own topology, and the per-test context the suites work in.

``TestBed`` lives for a session: namespaces, the started target, the tester's link.
``TcpCase`` lives for one test: it opens connections in either direction, hands out
ports, and at the end resets what is left and returns the evidence (frames, transcript).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.core import bounds
from harness.core.bounds import Bound
from harness.core.cgroups import Limits
from harness.core.errors import HarnessError, TargetError, Unsupported, precondition
from harness.core.impair import Impairment, RelayProcess
from harness.core.link import Frame, Link
from harness.core.tolerance import Tolerance
from harness.core.topology import TARGET_SYSCTLS, TesterTarget, create_tester_target
from harness.core.workdirs import make_workdir
from harness.hosts.agent import AgentClient, AgentReplyError
from harness.hosts.linux import LinuxTarget
from harness.hosts.spec import TargetSpec, parse_target
from harness.hosts.stack import DEFAULT_START_TIMEOUT_S, StackTarget, ref_command
from harness.tcp.oracle import Oracle
from harness.tcp.peer import TcpPeer

FIRST_PORT = 20000


def _now_us() -> int:
    return time.monotonic_ns() // 1000


Target = LinuxTarget | StackTarget


def make_target(
    spec: TargetSpec, topology: TesterTarget, profile: str, start_timeout: float, limits: Limits
) -> Target:
    if spec.kind == "linux":
        return LinuxTarget(topology)
    command = ref_command(profile) if spec.kind == "ref" else spec.command
    return StackTarget(spec.name, command, topology, start_timeout, limits)


class TestBed:
    """Topology + target + link for one target, shared by the tests of a session."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        target_name: str,
        profile: str = "rfc",
        *,
        relay: dict[str, Impairment] | None = None,
        seed: int = 1,
        sysctls: Mapping[str, str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        limits: Limits | None = None,
    ) -> None:
        """``sysctls`` are pinned in the target namespace over the defaults (kernel target);
        ``limits`` bound a userspace stack's memory and CPU."""
        spec = parse_target(target_name)
        self.target_name = spec.name
        tap = spec.uses_tap
        pinned = None if tap or not sysctls else {**TARGET_SYSCTLS, **sysctls}
        self.topology: TesterTarget = create_tester_target(
            tap=tap, relay=relay is not None, target_sysctls=pinned
        )
        self.relay: RelayProcess | None = None
        self._relay_dir: str | None = None
        try:
            self.target = make_target(
                spec, self.topology, profile, start_timeout, limits or Limits()
            )
            self.target.start()
            if relay is not None and self.topology.relay_netns:
                self._relay_dir = str(make_workdir("relay"))
                log = os.path.join(self._relay_dir, "relay.jsonl")
                self.relay = RelayProcess(self.topology.relay_netns, seed, relay, log)
            self.link = Link(self.topology.tester.netns, self.topology.tester.ifname)
        except BaseException:
            self.close()
            raise
        self._ports = itertools.count(FIRST_PORT)
        self.needs_restart = False
        self.restarts = 0

    def ensure_alive(self) -> None:
        """Before a test: a target that died or stopped answering in an earlier test is
        started again, so that one bad test does not take the rest down with it."""
        if not self.needs_restart and self.target.alive:
            return
        died = "" if self.needs_restart else self._how_it_ended()
        with contextlib.suppress(HarnessError, OSError):
            self.target.stop()
        self.restarts += 1
        self.needs_restart = False
        self.target.start()
        if died:  # it ended between two tests: this test says so, the next ones run
            raise TargetError(
                f"target {self.target.name} stopped after the previous test ({died}); "
                "it was started again for the tests that follow"
            )

    def _how_it_ended(self) -> str:
        status = getattr(self.target, "exit_status", None)
        return status() if callable(status) else "it exited"

    def next_port(self) -> int:
        return next(self._ports)

    @property
    def has_gateway(self) -> bool:
        """Whether the target was told its default gateway (a userspace stack learns it
        only from the {gateway} placeholder of its command line)."""
        return not isinstance(self.target, StackTarget) or "{gateway}" in self.target.command

    def environment(self) -> dict[str, str]:
        return self.target.environment()

    def close(self) -> None:
        target = getattr(self, "target", None)
        if target is not None:
            with contextlib.suppress(HarnessError, OSError):
                target.stop()
        link = getattr(self, "link", None)
        if link is not None:
            link.close()
        relay: RelayProcess | None = getattr(self, "relay", None)
        if relay is not None:
            relay.stop()
        relay_dir: str | None = getattr(self, "_relay_dir", None)
        if relay_dir:
            shutil.rmtree(relay_dir, ignore_errors=True)
        self.topology.teardown()


@dataclass
class TcpConnection:
    """A connection under test: the tester's peer and the target's control handle."""

    peer: TcpPeer
    handle: int


@dataclass
class TcpCase:
    """One test's view of a test bed."""

    __test__ = False

    bed: TestBed
    profile: str = "rfc"  # what the oracle expects the target to behave like
    tolerance: Tolerance = field(default_factory=Tolerance)
    connections: list[TcpConnection] = field(default_factory=list)
    handles: list[int] = field(default_factory=list)  # connections on the target: aborted
    listeners: list[int] = field(default_factory=list)  # closed
    measurements: list[str] = field(default_factory=list)  # INFO: what was measured

    def __repr__(self) -> str:  # short: pytest prints it beside every failing line
        return f"TcpCase(target={self.bed.target_name}, connections={len(self.connections)})"

    def __post_init__(self) -> None:
        self.bed.link.start_capture()
        self._transcript_start = len(self.control.transcript)

    @property
    def control(self) -> AgentClient:
        return self.bed.target.control

    def measure(self, what: str, seconds: float, *judged_by: Bound) -> None:
        """Record a measured time for the report, against every bound it is judged by."""
        self.measurements.append(bounds.describe(what, seconds, self.tolerance, *judged_by))

    def record(self, what: str, value: object) -> None:
        """Record a measured value that is not a time (segments per round, a goodput)."""
        self.measurements.append(f"{what}: {value}")

    def precondition(self, scenario: str) -> contextlib.AbstractContextManager[None]:
        """See harness.core.errors.precondition; the target's application refusing a step
        (an AgentReplyError) also means the scenario was not reached."""
        return precondition(scenario, AgentReplyError)

    def peer(self, target_port: int) -> TcpPeer:
        topo = self.bed.topology
        return TcpPeer(
            link=self.bed.link,
            tester_mac=topo.tester.mac,
            tester_ip=topo.tester.ip,
            tester_port=self.bed.next_port(),
            target_mac=topo.target.mac,
            target_ip=topo.target.ip,
            target_port=target_port,
            oracle=Oracle(self.profile),
            tolerance=self.tolerance,
        )

    def listen(self, port: int | None = None, **options: int) -> tuple[int, int]:
        """Make the target listen (socket options such as rcvbuf set before listen);
        return (port, listener handle)."""
        port = port or self.bed.next_port()
        request: dict[str, Any] = {"port": port}
        if options:
            request["options"] = options
        handle = int(self.control.request("listen", **request)["handle"])
        self.listeners.append(handle)
        return port, handle

    def app_connect(self, ip: str, port: int) -> tuple[int, int]:
        """The target's application opens a connection (answered at once; the handshake
        follows on the wire); returns (handle, the target's port). The connection is
        aborted when the test ends."""
        reply = self.control.request("connect", ip=ip, port=port)
        handle = int(reply["handle"])
        self.handles.append(handle)
        return handle, int(reply.get("sport", 0))

    def connect_to_target(
        self,
        *,
        mss: int | None = 1460,
        options: Iterable[tuple[str, object]] = (),
        window: int = 65535,
        iss: int | None = None,
        **listen_options: int,
    ) -> TcpConnection:
        """The tester opens a connection to a listening target and the target accepts it.
        ``listen_options`` (rcvbuf, nodelay, ...) are set on the target's listener."""
        with self.precondition("a connection opened by the tester (test_handshake.py judges it)"):
            port, listener = self.listen(**listen_options)
            peer = self.peer(port)
            peer.window = window
            if iss is not None:
                peer.iss = iss
            peer.connect(mss=mss, options=options)
            handle = int(self.control.request("accept", handle=listener, timeout=2.0)["handle"])
        return self.track(peer, handle)

    def set_option(self, conn: TcpConnection, option: str, value: int) -> None:
        """A socket option on the target's side of the connection (nodelay, rcvbuf, ...)."""
        self.control.request("set", handle=conn.handle, option=option, value=value)
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_option(option, value)

    def connect_from_target(self, *, mss: int = 1460) -> TcpConnection:
        """The target opens a connection to the tester, which completes the handshake."""
        port = self.bed.next_port()
        peer = self.peer(target_port=0)
        peer.tester_port = port
        with self.precondition("a connection opened by the target"):
            handle, peer.target_port = self.app_connect(self.bed.topology.tester.ip, port)
            peer.accept(mss=mss)
        return self.track(peer, handle)

    def app_read(self, conn: TcpConnection, size: int, timeout: float = 2.0) -> bytes:
        """What the target's application reads: up to ``size`` bytes, waiting for all."""
        reply = self.control.request(
            "recv", handle=conn.handle, max=size, min=size, timeout=timeout
        )
        data = base64.b64decode(reply["data"])
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_read(len(data), _now_us())
        return data

    def app_write(self, conn: TcpConnection, data: bytes) -> None:
        """The target's application writes ``data`` on the connection."""
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_wrote(data, _now_us())
        self.control.request("send", handle=conn.handle, data=base64.b64encode(data).decode())

    def app_shutdown(self, conn: TcpConnection) -> None:
        """The target's application closes its sending side (a FIN follows its data)."""
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_shutdown(_now_us())
        self.control.request("shutdown", handle=conn.handle, how="wr")

    def track(self, peer: TcpPeer, handle: int) -> TcpConnection:
        if handle not in self.handles:
            self.handles.append(handle)
        conn = TcpConnection(peer, handle)
        self.connections.append(conn)
        return conn

    def evidence(self) -> tuple[list[Frame], list[str]]:
        """Every frame on the link and every control line since the test began."""
        self.bed.link.drain()
        return list(self.bed.link.captured), self.control.transcript[self._transcript_start :]

    def finish(self) -> None:
        """Leave the target with nothing of this test's: reset the tester's connections,
        abort the target's (a connection still opening would otherwise keep sending SYNs
        into later tests' captures) and close its listeners. A target that fails here (dead,
        hung, garbled) is marked for a restart before the next test."""
        if self.bed.link.flood_rate:  # stop it now; the next test starts it afresh
            self.bed.needs_restart = True
            with contextlib.suppress(HarnessError, OSError):
                self.bed.target.stop()
            return
        for conn in self.connections:
            with contextlib.suppress(OSError):
                conn.peer.reset()
        if not self.bed.target.alive:
            self.bed.needs_restart = True
            return
        try:
            for handle in reversed(self.handles):
                self._end_handle("abort", handle)
            for handle in reversed(self.listeners):
                self._end_handle("close", handle)
        except HarnessError:
            self.bed.needs_restart = True

    def _end_handle(self, op: str, handle: int) -> None:
        try:
            self.control.request(op, handle=handle, timeout=2.0)
        except Unsupported:
            if op != "close":
                self._end_handle("close", handle)
        except AgentReplyError:
            pass  # already gone
