"""The test side of DHCP: the harness plays the clients of a server target
(``ClientsPeer``) or the server of a client target (``ServerPeer``) on the tester's link.

Both record every DHCP packet with its kernel timestamp (``exchanged``), answer ARP for the
addresses they stand for (a server unicasts to a renewing client's address; the server's own
address, to which a client unicasts, is held by the tester namespace's kernel, which answers
for it), and raise ConformanceFailure with the packets seen when the target does not do what
a test expects.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.clock import now_us, receive_until, wall_ns
from harness.core.errors import ConformanceFailure
from harness.core.link import Frame, Link
from reference_impl.dhcp.packets import (
    CLIENT_PORT,
    SERVER_PORT,
    DhcpPacket,
    arp_frame,
    decode,
    decode_arp,
    encode,
)
from reference_impl.dhcp.server import DhcpServer, Reply, ServerConfig
from reference_impl.wire import arp
from reference_impl.wire.dhcp import (
    BOOTREQUEST,
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    FLAG_BROADCAST,
    INFORM,
    MESSAGE_TYPE,
    PARAMETER_LIST,
    RELEASE,
    REQUEST,
    REQUESTED_IP,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    DhcpMessage,
)
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import BROADCAST
from reference_impl.wire.ipv4 import ip_to_bytes

ZERO = "0.0.0.0"
ALL_ONES = "255.255.255.255"


@dataclass(frozen=True)
class Seen:
    """A DHCP packet on the link, with when and which way it went."""

    ts_ns: int
    packet: DhcpPacket
    from_tester: bool


class DhcpLink:
    """DHCP over the tester's Link: send, receive, answer ARP, keep a transcript."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.arp_for: dict[str, str] = {}  # IP -> MAC the tester answers ARP for
        self.exchanged: list[Seen] = []
        self.arp_requests: list[tuple[int, arp.Arp]] = []  # every ARP request the target sent
        self.malformed: list[str] = []
        self.scale = 1.0  # --timing-scale: every wait of a test is this much longer

    def send(self, packet: DhcpPacket) -> None:
        # Stamped before sending: a reply's kernel timestamp can precede a stamp taken after.
        self.exchanged.append(Seen(wall_ns(), packet, True))
        self.link.send(encode(packet))

    def receive(self, timeout: float) -> Seen | None:
        """The next DHCP packet from the target within ``timeout`` seconds."""
        for frame in receive_until(self.link.receive, timeout):
            seen = self._dhcp(frame)
            if seen is not None:
                return seen
        return None

    def _dhcp(self, frame: Frame) -> Seen | None:
        request = decode_arp(frame.data)
        if request is not None:
            if request.op == arp.REQUEST and not frame.outgoing:
                self.arp_requests.append((frame.ts_ns, request))
            self._answer_arp(request)
            return None
        try:
            packet = decode(frame.data)
        except WireError as exc:
            self.malformed.append(str(exc))
            return None
        if packet is None:
            return None
        seen = Seen(frame.ts_ns, packet, False)
        self.exchanged.append(seen)
        return seen

    def _answer_arp(self, request: arp.Arp) -> None:
        mac = self.arp_for.get(request.target_ip)
        if request.op == arp.REQUEST and mac and request.sender_ip != ZERO:
            reply = arp_frame(
                arp.REPLY, mac, request.target_ip, request.sender_mac, request.sender_ip
            )
            self.link.send(reply)

    def transcript(self) -> list[str]:
        if not self.exchanged:
            return ["(no DHCP packets)"]
        t0 = self.exchanged[0].ts_ns
        return [
            f"+{(s.ts_ns - t0) / 1e9:8.3f} s  {'tester' if s.from_tester else 'target'}: "
            f"{s.packet.summary()}"
            for s in self.exchanged
        ]

    def failure(self, what: str) -> ConformanceFailure:
        lines = [what, "", "DHCP packets in this test:", *self.transcript()]
        if self.malformed:
            lines += ["", "malformed frames from the target:", *self.malformed]
        return ConformanceFailure("\n".join(lines))


# -- the harness as clients (server targets) ------------------------------------------------


@dataclass
class FakeClient:
    """A client the harness makes up: its own MAC, client identifier and transactions."""

    mac: str
    client_id: bytes
    xid: int = 0
    address: str = ZERO  # what it was given
    server_id: str = ""
    offer: DhcpPacket | None = None  # the last OFFER it got


class ClientsPeer(DhcpLink):
    """Clients on the server target's link."""

    def __init__(
        self, link: Link, server_ip: str, seed: int | None = None, server_mac: str = BROADCAST
    ) -> None:
        super().__init__(link)
        self.server_ip = server_ip
        self.server_mac = server_mac  # else learnt from the server's first reply
        self.rng = random.Random(seed)

    def addresses_handed_out(self) -> set[str]:
        """yiaddr of every reply the server sent in this test (offered or acknowledged)."""
        return {
            seen.packet.message.yiaddr
            for seen in self.exchanged
            if not seen.from_tester
            and seen.packet.message.op == 2
            and seen.packet.message.yiaddr != ZERO
        }

    def new_client(self) -> FakeClient:
        mac = "02:6e:64:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(3))
        return FakeClient(mac, b"\x01" + bytes.fromhex(mac.replace(":", "")))

    def message(
        self,
        client: FakeClient,
        kind: int,
        *,
        requested: str | None = None,
        server_id: str | None = None,
        ciaddr: str = ZERO,
        giaddr: str = ZERO,
        broadcast: bool = False,
        new_xid: bool = True,
        parameters: bytes = bytes([SUBNET_MASK, ROUTER]),
        extra: tuple[tuple[int, bytes], ...] = (),
    ) -> DhcpMessage:
        """A client message; ``parameters``: its parameter request list (DISCOVER, REQUEST,
        INFORM); ``extra``: more options, after the others (a relay's option 82 last)."""
        if new_xid or not client.xid:
            client.xid = self.rng.getrandbits(32)
        options: list[tuple[int, bytes]] = [
            (MESSAGE_TYPE, bytes([kind])),
            (CLIENT_ID, client.client_id),
        ]
        if requested:
            options.append((REQUESTED_IP, ip_to_bytes(requested)))
        if server_id:
            options.append((SERVER_ID, ip_to_bytes(server_id)))
        if kind in (DISCOVER, REQUEST, INFORM) and parameters:
            options.append((PARAMETER_LIST, parameters))
        return DhcpMessage(
            BOOTREQUEST,
            client.xid,
            client.mac,
            (*options, *extra),
            flags=FLAG_BROADCAST if broadcast else 0,
            ciaddr=ciaddr,
            giaddr=giaddr,
            hops=1 if giaddr != ZERO else 0,
        )

    def send_from(self, client: FakeClient, message: DhcpMessage, *, unicast: bool = False) -> None:
        """Broadcast from 0.0.0.0, or (``unicast``) from the client's address to the
        server, as a client in RENEWING or sending RELEASE/INFORM does (4.1, 4.4.5). A
        message with giaddr set comes from that relay: unicast from giaddr, port 67 to 67
        (the relay answers ARP with the client's MAC; RFC 1542 4.1)."""
        if message.giaddr != ZERO:
            self.arp_for[message.giaddr] = client.mac
            packet = DhcpPacket(
                message,
                client.mac,
                self.server_mac,
                message.giaddr,
                self.server_ip,
                SERVER_PORT,
                SERVER_PORT,
            )
            self.send(packet)
            return
        if unicast:
            self.arp_for[client.address] = client.mac
            src, dst = client.address, self.server_ip
            eth_dst = self.server_mac
        else:
            src = message.ciaddr  # 0.0.0.0 unless the client has an address (REBINDING)
            if src != ZERO:
                self.arp_for[src] = client.mac
            dst, eth_dst = ALL_ONES, BROADCAST
        self.send(DhcpPacket(message, client.mac, eth_dst, src, dst, CLIENT_PORT, SERVER_PORT))

    def expect_reply(
        self, client: FakeClient, kinds: tuple[str, ...], within: float, what: str
    ) -> DhcpPacket:
        """The server's reply to the client's current transaction."""
        return self._of_kind(self.receive_reply(client, within), kinds, within, what)

    def _of_kind(
        self, packet: DhcpPacket | None, kinds: tuple[str, ...], within: float, what: str
    ) -> DhcpPacket:
        """``packet`` if it is one of ``kinds`` (its sender is the server from now on);
        a failure if it is another kind or none came within ``within`` seconds."""
        if packet is None:
            raise self.failure(
                f"{what}: expected {' or '.join(kinds)} within {within:.0f} s, got none"
            )
        self.server_mac = packet.eth_src
        if packet.kind not in kinds:
            raise self.failure(f"{what}: expected {' or '.join(kinds)}, got {packet.kind}")
        return packet

    def receive_reply(self, client: FakeClient, within: float) -> DhcpPacket | None:
        """The server's next reply to the client's transaction, whatever its kind."""
        for seen in receive_until(self.receive, self.scale * within):
            if seen.packet.message.op == 2 and seen.packet.message.xid == client.xid:
                return seen.packet
        return None

    def expect_no_reply(self, client: FakeClient, within: float, what: str) -> None:
        for seen in receive_until(self.receive, self.scale * within):
            if seen.packet.message.op == 2 and seen.packet.message.xid == client.xid:
                raise self.failure(f"{what}: expected silence, got {seen.packet.kind}")

    def discover(
        self,
        client: FakeClient,
        *,
        requested: str | None = None,
        broadcast: bool = False,
        giaddr: str = ZERO,
        within: float = 5.0,
        what: str = "reply to DHCPDISCOVER",
        attempts: int = 1,
        **options: Any,
    ) -> DhcpPacket:
        """A DISCOVER (new xid) and the server's OFFER to it, kept as ``client.offer``. With
        ``attempts`` the DISCOVER is sent again, as a client retransmits it (RFC 2131 4.1),
        each time waited for ``within`` seconds (a server that has just started may miss the
        first)."""
        message = self.message(
            client, DISCOVER, requested=requested, broadcast=broadcast, giaddr=giaddr, **options
        )
        packet = None
        for _ in range(attempts):
            self.send_from(client, message)
            packet = self.receive_reply(client, within)
            if packet is not None:
                break
        client.offer = self._of_kind(packet, ("DHCPOFFER",), within, what)
        return client.offer

    def lease(
        self, client: FakeClient, within: float = 5.0, *, requested: str | None = None
    ) -> DhcpPacket:
        """DISCOVER, OFFER, REQUEST, ACK: the client ends up with an address."""
        offer = self.discover(client, requested=requested, within=within)
        server_id = offer.message.option_ip(SERVER_ID) or self.server_ip
        request = self.message(
            client, REQUEST, requested=offer.message.yiaddr, server_id=server_id, new_xid=False
        )
        self.send_from(client, request)
        ack = self.expect_reply(client, ("DHCPACK",), within, "reply to DHCPREQUEST (SELECTING)")
        client.address, client.server_id = ack.message.yiaddr, server_id
        self.arp_for[client.address] = client.mac
        return ack

    def release(self, client: FakeClient) -> None:
        message = self.message(client, RELEASE, server_id=client.server_id, ciaddr=client.address)
        self.send_from(client, message, unicast=True)

    def decline(self, client: FakeClient, address: str) -> None:
        message = self.message(
            client, DECLINE, requested=address, server_id=client.server_id, new_xid=False
        )
        self.send_from(client, message)


# -- the harness as the server (client targets) --------------------------------------------


class ServerPeer(DhcpLink):
    """The server a client target talks to: the reference DhcpServer answers, so replies are
    correct by construction; a test can hold replies back or change them."""

    def __init__(self, link: Link, config: ServerConfig, server_mac: str) -> None:
        super().__init__(link)
        self.server = DhcpServer(config)
        self.config = config
        self.mac = server_mac  # the tester namespace's kernel answers ARP for the server
        self.answering: Callable[[DhcpPacket], bool] = lambda packet: True

    def serve_until(self, done: Callable[[Seen], bool], within: float, what: str) -> Seen:
        """Answer the client until a packet satisfies ``done``; fail after ``within`` s."""
        for seen in receive_until(self.receive, self.scale * within):
            if seen.packet.dport != SERVER_PORT or seen.packet.message.op != 1:
                continue
            if done(seen):
                return seen
            self.answer(seen.packet)
        raise self.failure(f"{what}: not seen within {within:.0f} s")

    def answer(self, packet: DhcpPacket) -> None:
        if not self.answering(packet):
            return
        for reply in self.server.handle(packet.message, now=now_us()):
            self.send(self.reply_packet(packet, reply))

    def reply_packet(self, request: DhcpPacket, reply: Reply) -> DhcpPacket:
        """The reply addressed as the server decided (4.1), from this server's MAC and IP."""
        dest = reply.destination
        return DhcpPacket(
            reply.message,
            self.mac,
            dest.mac or request.eth_src,
            self.config.server_id,
            dest.ip,
            SERVER_PORT,
            dest.port,
        )

    def wait_bound(self, within: float) -> DhcpPacket:
        """Answer the client until this server has ACKed its REQUEST; return the ACK."""
        start = len(self.exchanged)
        for seen in receive_until(self.receive, self.scale * within):
            if seen.packet.dport == SERVER_PORT:
                self.answer(seen.packet)
            for sent in self.exchanged[start:]:
                if sent.from_tester and sent.packet.kind == "DHCPACK":
                    return sent.packet
        raise self.failure(
            f"the client did not complete DISCOVER/OFFER/REQUEST/ACK in {within:.0f} s"
        )

    def sent_at(self, packet: DhcpPacket) -> int:
        """When the harness sent ``packet`` (ns, same clock as kernel timestamps)."""
        return next(s.ts_ns for s in self.exchanged if s.packet is packet)

    def collect(self, seconds: float) -> list[Seen]:
        """Answer (as ``answering`` allows) for ``seconds``; return what the client sent."""
        got: list[Seen] = []
        for seen in receive_until(self.receive, self.scale * seconds):
            if seen.packet.dport != SERVER_PORT:
                continue
            got.append(seen)
            self.answer(seen.packet)
        return got
