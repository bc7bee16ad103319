"""One TCP test's view of a host bed: it opens connections in either direction, drives the
target's application through the control protocol, hands out ports, and at the end resets
what is left and returns the evidence (frames, transcript, ladders)."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.core.case import Case, Evidence
from harness.core.clock import now_us
from harness.core.errors import HarnessError, Unsupported, precondition
from harness.core.tolerance import Tolerance
from harness.hosts.agent import AgentClient, AgentReplyError
from harness.hosts.bed import TestBed
from harness.report.ladder import ladder_svg, time_sequence_svg
from harness.tcp.oracle import Oracle
from harness.tcp.peer import TcpPeer
from reference_impl.wire.tcp import TcpOption

TIME_SEQUENCE_MIN_SEGMENTS = 4  # a connection that carried this much data gets a plot


@dataclass
class TcpConnection:
    """A connection under test: the tester's peer and the target's control handle."""

    peer: TcpPeer
    handle: int


class TcpCase(Case):
    """One test's view of a host bed, for TCP."""

    bed: TestBed

    def __init__(
        self, bed: TestBed, profile: str = "rfc", tolerance: Tolerance | None = None
    ) -> None:
        super().__init__(bed, tolerance)
        self.profile = profile  # what the oracle expects the target to behave like
        self.connections: list[TcpConnection] = []
        self.handles: list[int] = []  # connections on the target: aborted at the end
        self.listeners: list[int] = []  # closed at the end
        self._transcript_start = len(self.control.transcript)

    def __repr__(self) -> str:  # short: pytest prints it beside every failing line
        return f"TcpCase(target={self.bed.target_name}, connections={len(self.connections)})"

    @property
    def control(self) -> AgentClient:
        return self.bed.target.control

    def precondition(
        self, scenario: str, *, judged: tuple[type[Exception], ...] = ()
    ) -> contextlib.AbstractContextManager[None]:
        """See harness.core.errors.precondition; the target's application refusing a step
        (an AgentReplyError) also means the scenario was not reached."""
        return precondition(scenario, AgentReplyError, judged=judged)

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
        options: Iterable[TcpOption] = (),
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
            conn.peer.oracle.app_read(len(data), now_us())
        return data

    def app_write(self, conn: TcpConnection, data: bytes) -> None:
        """The target's application writes ``data`` on the connection."""
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_wrote(data, now_us())
        self.control.request("send", handle=conn.handle, data=base64.b64encode(data).decode())

    def app_shutdown(self, conn: TcpConnection) -> None:
        """The target's application closes its sending side (a FIN follows its data)."""
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_shutdown(now_us())
        self.control.request("shutdown", handle=conn.handle, how="wr")

    def app_close(self, conn: TcpConnection) -> None:
        """The target's application closes the connection entirely: it reads no more."""
        if conn.peer.oracle is not None:
            conn.peer.oracle.app_close(now_us())
        self.control.request("close", handle=conn.handle)
        self.handles.remove(conn.handle)

    def track(self, peer: TcpPeer, handle: int) -> TcpConnection:
        """A connection the test owns: the target's side is aborted when the test ends."""
        if handle not in self.handles:
            self.handles.append(handle)
        return self.observe(peer, handle)

    def observe(self, peer: TcpPeer, handle: int) -> TcpConnection:
        """A connection in the evidence whose handle is not its own (a listener's, for one
        still in SYN-RECEIVED): reset by the tester at the end, nothing aborted."""
        conn = TcpConnection(peer, handle)
        self.connections.append(conn)
        return conn

    def add_evidence(self, found: Evidence) -> None:
        """The control transcript since the test began, a ladder per connection (and a
        time-sequence plot for one that carried data), what the peers noted as INFO."""
        found.transcript = self.control.transcript[self._transcript_start :]
        for index, conn in enumerate(self.connections, start=1):
            segments = conn.peer.conversation(found.frames)
            name = f"connection {index}" if len(self.connections) > 1 else "connection"
            title = self.title or f"{self.bed.target_name}: {name}"
            found.pictures.append(
                (f"ladder ({name})", ladder_svg(segments, conn.peer.notes, title))
            )
            if sum(1 for seg in segments if seg.length) >= TIME_SEQUENCE_MIN_SEGMENTS:
                found.pictures.append((f"time-sequence ({name})", time_sequence_svg(segments)))
            found.info.extend(conn.peer.info)

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
