"""Bulk data between the tester and any target, each way, checked by SHA-256.

The tester has no kernel address (so that its kernel never answers crafted traffic), so its
end of a bulk connection is the reference TcpConnection, driven over the tester's raw link by
a pump thread while the main thread drives the target's application through the control
protocol (``send size=N``, ``drain``, or ``recv`` where a stack has no ``drain``).
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from dataclasses import dataclass

from harness.core.clock import now_us
from harness.core.errors import ScenarioNotReached, Unsupported
from harness.core.link import Link
from harness.hosts.agent import AgentReplyError
from harness.hosts.linux_agent import generated
from harness.tcp.case import TcpCase
from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.profiles import RFC
from reference_impl.tcp.states import State
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import TcpSegment

TESTER_PROFILE = RFC.with_(rcvbuf=1 << 20, window_scale=7, sndbuf=4 << 20)
CHUNK = 64 * 1024


@dataclass
class Transfer:
    direction: str
    size: int
    moved: int  # bytes that reached the receiving application
    seconds: float
    sent_sha256: str
    received_sha256: str

    @property
    def complete(self) -> bool:
        return self.moved >= self.size

    @property
    def intact(self) -> bool:
        return self.moved == self.size and self.sent_sha256 == self.received_sha256

    @property
    def megabytes_per_s(self) -> float:
        return self.moved / self.seconds / 1e6 if self.seconds > 0 else 0.0


class LinkEndpoint(threading.Thread):
    """The reference TCP as the tester's end of one connection, on the tester's link."""

    def __init__(self, case: TcpCase, target_port: int, tester_port: int) -> None:
        super().__init__(daemon=True, name="netconform-bulk")
        topo = case.bed.topology
        self.link: Link = case.bed.link
        self.macs = (topo.tester.mac, topo.target.mac)
        self.ips = (topo.tester.ip, topo.target.ip)
        self.conn = TcpConnection.connect(
            tester_port,
            target_port,
            iss=random.getrandbits(32),
            now=now_us(),
            profile=TESTER_PROFILE,
        )
        self.to_send = 0  # bytes the tester's application still has to write
        self.received = 0
        self.digest = hashlib.sha256()
        self.done = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._send(self.conn.outgoing())
            while not self.done.is_set():
                self._turn()
        except BaseException as exc:  # reported to the main thread, never lost
            self.failure = exc

    def _turn(self) -> None:
        timer = self.conn.next_timer()
        wait = 0.02 if timer is None else min(0.02, max(0.0, (timer - now_us()) / 1e6))
        frame = self.link.receive(wait)
        now = now_us()
        if frame is not None and (seg := self._ours(frame.data)) is not None:
            self._send(self.conn.receive_segment(seg, now=now))
        if timer is not None and timer <= now:
            self._send(self.conn.on_timer(now=now))
        if self.to_send and self.conn.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            piece = min(self.to_send, self.conn.send_space, CHUNK)
            if piece:
                self._send(self.conn.send(generated(piece), now=now))
                self.to_send -= piece
        data = self.conn.read(1 << 20, now=now)
        if data:
            self.received += len(data)
            self.digest.update(data)
        self._send(self.conn.outgoing())

    def _ours(self, data: bytes) -> TcpSegment | None:
        try:
            eth = Ethernet.parse(data)
            if eth.ethertype != ETH_P_IP:
                return None
            packet = IPv4.parse(eth.payload)
            if packet.proto != PROTO_TCP or (packet.src, packet.dst) != self.ips[::-1]:
                return None
            seg = TcpSegment.parse(packet.payload)
        except WireError:
            return None
        ours = (seg.sport, seg.dport) == (self.conn.remote_port, self.conn.local_port)
        return seg if ours else None

    def _send(self, segments: list[TcpSegment]) -> None:
        tester_ip, target_ip = self.ips
        for seg in segments:
            packet = IPv4(tester_ip, target_ip, PROTO_TCP, seg.emit(tester_ip, target_ip))
            self.link.send(Ethernet(self.macs[1], self.macs[0], ETH_P_IP, packet.emit()).emit())

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure


def transfer(case: TcpCase, direction: str, size: int, timeout: float) -> Transfer:
    """Move ``size`` bytes ``to-target`` or ``from-target`` on a new connection."""
    port, listener = case.listen(rcvbuf=1 << 20)
    endpoint = LinkEndpoint(case, port, case.bed.next_port())
    endpoint.start()
    try:
        with case.precondition("a bulk connection opened by the tester"):
            accepted = case.control.request("accept", handle=listener, timeout=3.0)
        handle = int(accepted["handle"])
        case.handles.append(handle)
        if direction == "to-target":
            return _to_target(case, endpoint, handle, size, timeout)
        return _from_target(case, endpoint, handle, size, timeout)
    finally:
        endpoint.stop()
        endpoint.check()


def _to_target(
    case: TcpCase, endpoint: LinkEndpoint, handle: int, size: int, timeout: float
) -> Transfer:
    began = time.monotonic()
    endpoint.to_send = size
    moved, received_sha = _drain(case, handle, size, timeout)
    seconds = time.monotonic() - began
    sent_sha = hashlib.sha256(generated(size)).hexdigest()
    return Transfer("to-target", size, moved, seconds, sent_sha, received_sha)


def _drain(case: TcpCase, handle: int, size: int, timeout: float) -> tuple[int, str]:
    """What the target's application read: (bytes, SHA-256), by ``drain`` or by ``recv``."""
    try:
        reply = case.control.request("drain", handle=handle, size=size, timeout=timeout)
        return int(reply["size"]), str(reply["sha256"])
    except Unsupported:
        pass
    digest, got, deadline = hashlib.sha256(), 0, time.monotonic() + timeout
    while got < size and (left := deadline - time.monotonic()) > 0:
        reply = case.control.request(
            "recv", handle=handle, max=min(CHUNK, size - got), timeout=left
        )
        data = base64.b64decode(reply["data"])
        digest.update(data)
        got += len(data)
        if reply.get("eof"):
            break
    return got, digest.hexdigest()


def _from_target(
    case: TcpCase, endpoint: LinkEndpoint, handle: int, size: int, timeout: float
) -> Transfer:
    began = time.monotonic()
    try:
        case.control.request("send", handle=handle, size=size, timeout=timeout)
    except AgentReplyError as exc:
        raise ScenarioNotReached(f"the target writing {size} bytes", str(exc)) from None
    deadline = began + timeout
    while endpoint.received < size and time.monotonic() < deadline and endpoint.is_alive():
        time.sleep(0.01)
    seconds = time.monotonic() - began
    endpoint.stop()
    sent_sha = hashlib.sha256(generated(size)).hexdigest()
    received_sha = endpoint.digest.hexdigest()
    return Transfer("from-target", size, endpoint.received, seconds, sent_sha, received_sha)
