"""A whole sans-I/O host: ARP, IPv4, ICMP echo, TCP and UDP over Ethernet frames.

    host = Host(HostConfig(mac=..., ip=..., prefixlen=24))
    frames = host.receive_frame(frame_bytes, now=now)   # frames to put on the wire
    host.next_timer(); host.on_timer(now=now)            # the caller drives time
    frames = host.flush()                                # after socket calls (listen, send, ...)

Routing is RFC 1122 3.3.1: a destination inside our prefix is on-link and resolved by ARP
(RFC 826); anything else goes to the gateway's MAC. Bad input from the wire never raises: a
frame that does not parse, a bad IP header checksum or a bad TCP/UDP checksum is dropped and
counted in ``host.drops``.
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import struct
from collections import Counter, deque
from dataclasses import dataclass, field

from reference_impl.tcp import decode_checked
from reference_impl.tcp.connection import TcpConnection, rst_for_unknown
from reference_impl.tcp.listener import TcpListener, isn_generator
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.tcp.states import State
from reference_impl.wire.arp import REPLY, REQUEST, Arp
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import BROADCAST, ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.icmp import (
    DEST_UNREACHABLE,
    ECHO_REQUEST,
    FRAGMENTATION_NEEDED,
    PORT_UNREACHABLE,
    PROTOCOL_UNREACHABLE,
    SOURCE_QUENCH,
    Icmp,
    echo_reply_to,
    next_hop_mtu,
)
from reference_impl.wire.ipv4 import (
    FLAG_MF,
    PROTO_ICMP,
    PROTO_TCP,
    PROTO_UDP,
    IPv4,
    ip_to_bytes,
    packet_bytes,
)
from reference_impl.wire.tcp import SYN, TcpSegment, segmented
from reference_impl.wire.udp import Udp, udp_checksum_ok

NEXT_HOP_CACHE = 4096  # destinations whose next hop is remembered (a flood of sources: bounded)
DEFAULT_TTL = 64  # of datagrams no connection has set otherwise (as Linux)

ARP_RETRY_US = 1_000_000
ARP_ATTEMPTS = 3
MAX_PENDING_PER_IP = 64
DEFAULT_BACKLOG = 128  # connections per listener not yet accepted, half-open ones included
ConnKey = tuple[int, str, int]  # local port, remote ip, remote port


class HostError(Exception):
    """API misuse: an unknown connection, a port already in use."""


@dataclass
class HostConfig:
    mac: str
    ip: str
    prefixlen: int = 24
    gateway: str | None = None
    profile: Profile = RFC
    isn_secret: bytes = b"netconform reference host"
    neighbors: dict[str, str] = field(default_factory=dict)  # static ARP entries


@dataclass
class PendingResolution:
    frames: list[tuple[str, bytes]] = field(default_factory=list)  # (next hop, IPv4 packet)
    attempts: int = 0
    retry_at: int = 0


class Host:
    def __init__(self, config: HostConfig) -> None:
        self.config = config
        self.network = ipaddress.ip_network(f"{config.ip}/{config.prefixlen}", strict=False)
        self.arp_table: dict[str, str] = dict(config.neighbors)
        self.pending: dict[str, PendingResolution] = {}
        self.connections: dict[ConnKey, TcpConnection] = {}
        self.listeners: dict[int, TcpListener] = {}
        self.accept_queue: dict[int, deque[ConnKey]] = {}
        self.backlog: dict[int, int] = {}
        # Work per frame must not grow with the number of connections: timers wait in a
        # heap (entries go stale when a connection re-arms; they are skipped), and flush()
        # visits only the connections touched since it last ran.
        self._timers: list[tuple[int, ConnKey]] = []
        self._touched: set[ConnKey] = set()
        self._queued: set[ConnKey] = set()  # keys in some accept queue
        self.udp_ports: dict[int, deque[tuple[str, int, bytes]]] = {}
        self.drops: Counter[str] = Counter()
        self.isn = isn_generator(config.isn_secret)
        self._ident = 0
        self.now = 0  # the latest time any entry point was given
        self._next_ephemeral = 49152
        self._out: list[bytes] = []
        # The send path's constant parts, made once: our address as bytes, the Ethernet
        # header for each neighbour, the addresses a datagram to us may carry.
        self._ip_bytes = ip_to_bytes(config.ip)
        self._ethernet_headers: dict[str, bytes] = {}
        self._next_hops: dict[str, str] = {}
        self._broadcast = str(self.network.broadcast_address)
        self._our_destinations = (config.ip, self._broadcast, "255.255.255.255")
        # Set by an I/O layer whose device completes TCP checksums (a TAP with a virtio-net
        # header): TCP segments then leave with only the pseudo-header's sum in the field.
        self.tcp_checksum_offload = False

    # -- the wire ------------------------------------------------------------------------

    def receive_frame(self, frame: bytes, *, now: int) -> list[bytes]:
        """Take one frame; return every frame to put on the wire since the last flush."""
        self.deliver_frame(frame, now=now)
        return self.flush()

    def deliver_frame(
        self,
        frame: bytes,
        *,
        now: int,
        tcp_checksum_verified: bool = False,
        tcp_segment_size: int = 0,
    ) -> None:
        """Take one frame and keep what it makes for ``flush``: an I/O layer that reads
        frames in bursts flushes once per burst. Each connection's segments are the same, in
        the same order, as with ``receive_frame`` after every frame; they leave later by the
        time the rest of the burst takes.

        From a device with receive offload (a TAP's virtio-net header): the device checked
        the TCP checksum (``tcp_checksum_verified``), or the frame is a run of segments it
        merged, ``tcp_segment_size`` bytes of payload each but the last (cut back by
        ``segmented``, taken one by one)."""
        self.now = now
        try:
            eth = Ethernet.parse(frame)
        except WireError:
            self.drops["ethernet"] += 1
            return
        if eth.dst not in (self.config.mac, BROADCAST):
            self.drops["not for us"] += 1
        elif eth.ethertype == ETH_P_ARP:
            self._on_arp(eth.payload, now)
        elif eth.ethertype == ETH_P_IP:
            self._on_ipv4(eth.payload, now, tcp_checksum_verified, tcp_segment_size)

    def flush(self) -> list[bytes]:
        """Every frame produced since the last call: connection output and ARP."""
        touched, self._touched = self._touched, set()
        for key in touched:
            conn = self.connections.get(key)
            if conn is None:
                continue
            for seg in conn.outgoing():
                self._send_tcp(key[1], seg, conn.profile.ttl)
            if conn.state == State.CLOSED:
                self._forget(key)
            else:
                self._schedule(key, conn)
        out, self._out = self._out, []
        return out

    def _touch(self, key: ConnKey) -> None:
        self._touched.add(key)

    def _schedule(self, key: ConnKey, conn: TcpConnection) -> None:
        timer = conn.next_timer()
        if timer is not None:
            heapq.heappush(self._timers, (timer, key))
        if len(self._timers) > 4 * len(self.connections) + 1024:
            self._timers = [e for e in self._timers if self._live(e)]  # drop stale entries
            heapq.heapify(self._timers)

    def _live(self, entry: tuple[int, ConnKey]) -> bool:
        conn = self.connections.get(entry[1])
        return conn is not None and conn.next_timer() == entry[0]

    def next_timer(self) -> int | None:
        while self._timers and not self._live(self._timers[0]):
            heapq.heappop(self._timers)
        times = [p.retry_at for p in self.pending.values()]
        if self._timers:
            times.append(self._timers[0][0])
        return min(times) if times else None

    def on_timer(self, *, now: int) -> list[bytes]:
        self.now = now
        while self._timers and self._timers[0][0] <= now:
            entry = heapq.heappop(self._timers)
            if self._live(entry):
                key = entry[1]
                self._send_segments(key[1], self.connections[key].on_timer(now=now))
                self._touch(key)
        for ip, pending in list(self.pending.items()):
            if pending.retry_at <= now:
                self._retry_arp(ip, pending, now)
        return self.flush()

    # -- ARP (RFC 826) --------------------------------------------------------------------

    def _on_arp(self, payload: bytes, now: int) -> None:
        try:
            arp = Arp.parse(payload)
        except WireError:
            self.drops["arp"] += 1
            return
        if arp.sender_ip in self.arp_table or arp.target_ip == self.config.ip:
            self._learn(arp.sender_ip, arp.sender_mac)
        if arp.op == REQUEST and arp.target_ip == self.config.ip:
            reply = Arp(REPLY, self.config.mac, self.config.ip, arp.sender_mac, arp.sender_ip)
            self._out.append(
                Ethernet(arp.sender_mac, self.config.mac, ETH_P_ARP, reply.emit()).emit()
            )

    def _learn(self, ip: str, mac: str) -> None:
        if ip in self.config.neighbors:
            return  # a static entry is never overwritten
        self.arp_table[ip] = mac
        pending = self.pending.pop(ip, None)
        if pending:
            for _hop, packet in pending.frames:
                self._out.append(self._ethernet_header(mac) + packet)

    def _retry_arp(self, ip: str, pending: PendingResolution, now: int) -> None:
        if pending.attempts >= ARP_ATTEMPTS:
            del self.pending[ip]
            self.drops["unresolved"] += len(pending.frames)
            return
        pending.attempts += 1
        pending.retry_at = now + ARP_RETRY_US
        request = Arp(REQUEST, self.config.mac, self.config.ip, "00:00:00:00:00:00", ip)
        self._out.append(Ethernet(BROADCAST, self.config.mac, ETH_P_ARP, request.emit()).emit())

    def next_hop(self, dst: str) -> str:
        """RFC 1122 3.3.1.1: on-link if inside our prefix, else via the gateway. Decided once
        per destination, not once per datagram (the configuration does not change)."""
        hop = self._next_hops.get(dst)
        if hop is None:
            gateway = self.config.gateway
            hop = dst if gateway is None or _in_network(dst, self.network) else gateway
            if len(self._next_hops) >= NEXT_HOP_CACHE:
                self._next_hops.clear()
            self._next_hops[dst] = hop
        return hop

    # -- IPv4 -----------------------------------------------------------------------------

    def _on_ipv4(
        self, payload: bytes, now: int, tcp_checksum_verified: bool, tcp_segment_size: int
    ) -> None:
        try:
            packet = IPv4.parse(payload)
        except WireError:
            self.drops["ipv4"] += 1
            return
        if not packet.header_checksum_ok:
            self.drops["ipv4 checksum"] += 1
            return
        if packet.dst not in self._our_destinations:
            self.drops["not our address"] += 1
            return
        if packet.flags & FLAG_MF or packet.frag_offset:
            self.drops["fragment"] += 1  # no reassembly in the reference host
            return
        if packet.proto == PROTO_TCP and packet.dst == self.config.ip:
            self._on_tcp(packet, now, tcp_checksum_verified, tcp_segment_size)
        elif packet.proto == PROTO_UDP:
            self._on_udp(packet)
        elif packet.proto == PROTO_ICMP and packet.dst == self.config.ip:
            self._on_icmp(packet)

    def _send_ip(self, dst: str, proto: int, payload: bytes, *, ttl: int = DEFAULT_TTL) -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        dst_bytes = ip_to_bytes(dst)
        if len(dst_bytes) != 4:
            raise WireError("ipv4", "address", f"bad address {dst!r}")
        packet = packet_bytes(self._ip_bytes, dst_bytes, proto, payload, ttl=ttl, ident=self._ident)
        hop = self.next_hop(dst)
        mac = BROADCAST if dst == "255.255.255.255" else self.arp_table.get(hop)
        if mac is not None:
            self._out.append(self._ethernet_header(mac) + packet)
            return
        pending = self.pending.get(hop)
        if pending is None:
            pending = self.pending[hop] = PendingResolution()
            self._retry_arp(hop, pending, self.now)
        if len(pending.frames) < MAX_PENDING_PER_IP:
            pending.frames.append((hop, packet))

    def _ethernet_header(self, mac: str) -> bytes:
        """The 14 bytes before an IPv4 packet to ``mac`` (made once per neighbour)."""
        header = self._ethernet_headers.get(mac)
        if header is None:
            header = Ethernet(mac, self.config.mac, ETH_P_IP, b"").emit()
            self._ethernet_headers[mac] = header
        return header

    def _on_icmp(self, packet: IPv4) -> None:
        """A well-formed echo request is answered (RFC 1122 3.2.2.6); an error about one of
        our TCP segments goes to its connection (RFC 9293 3.9.2.2); other types are
        silently discarded (3.2.2)."""
        try:
            message = Icmp.parse(packet.payload)
        except WireError:
            return
        if not message.checksum_ok:
            return
        if message.type == ECHO_REQUEST:
            self._send_ip(packet.src, PROTO_ICMP, echo_reply_to(message).emit())
        elif message.type in (DEST_UNREACHABLE, SOURCE_QUENCH):
            self._tcp_error(message)

    def _tcp_error(self, message: Icmp) -> None:
        """Hand an ICMP error to the TCP connection whose segment it quotes."""
        try:
            quoted = IPv4.parse_quoted(message.payload)
        except WireError:
            return
        if quoted.proto != PROTO_TCP or quoted.src != self.config.ip or len(quoted.payload) < 8:
            return
        sport, dport, quoted_seq = struct.unpack_from("!HHI", quoted.payload)
        conn = self.connections.get((sport, quoted.dst, dport))
        if conn is None or conn.state == State.CLOSED:
            return
        kind = icmp_error_kind(message)
        self._send_segments(
            quoted.dst, conn.icmp_error(kind, quoted_seq, mtu=next_hop_mtu(message), now=self.now)
        )

    # -- TCP ------------------------------------------------------------------------------

    def _invalid_source(self, src: str) -> bool:
        """RFC 1122 3.2.1.3: no host sends from a broadcast, multicast, class E, zero or
        loopback address; TCP ignores such segments (RFC 9293 MUST-63). Checked for TCP
        only: a DHCP client rightly sends from 0.0.0.0."""
        return _never_a_source(src) or src == self._broadcast

    def _on_tcp(self, packet: IPv4, now: int, checksum_verified: bool, segment_size: int) -> None:
        if self._invalid_source(packet.src):
            self.drops["tcp from an invalid source"] += 1
            return
        seg = decode_checked(
            packet.src, packet.dst, packet.payload, checksum_verified=checksum_verified
        )
        if seg is None:
            self.drops["tcp checksum or header"] += 1
            return
        if segment_size and len(seg.payload) > segment_size:
            for piece in segmented(seg, segment_size):
                self._on_segment(packet.src, piece, now)
        else:
            self._on_segment(packet.src, seg, now)

    def _on_segment(self, src: str, seg: TcpSegment, now: int) -> None:
        key = (seg.dport, src, seg.sport)
        conn = self.connections.get(key)
        if conn is not None and conn.state != State.CLOSED:
            self._send_segments(src, conn.receive_segment(seg, now=now))
            self._touch(key)
            return
        listener = self.listeners.get(seg.dport)
        if listener is not None:
            if self._backlog_full(seg.dport) and seg.flags & SYN:
                self.drops["listen backlog full"] += 1  # silence: the peer retries its SYN
                return
            new, replies = listener.receive_segment(seg, now=now)
            if new is not None:
                self.connections[key] = new
                self.accept_queue[seg.dport].append(key)
                self._queued.add(key)
                self._touch(key)
            self._send_segments(src, replies)
            return
        rst = rst_for_unknown(seg)
        if rst is not None:
            self._send_segments(src, [rst])

    def _send_segments(self, dst: str, segments: list[TcpSegment]) -> None:
        for seg in segments:
            conn = self.connections.get((seg.sport, dst, seg.dport))
            self._send_tcp(dst, seg, conn.profile.ttl if conn is not None else DEFAULT_TTL)

    def _send_tcp(self, dst: str, seg: TcpSegment, ttl: int) -> None:
        """Every segment of a connection carries the TTL its application set (RFC 9293
        3.9.2, MUST-49), timer-driven ones too."""
        if self.tcp_checksum_offload:
            payload = seg.emit_for_checksum_offload(self.config.ip, dst)
        else:
            payload = seg.emit(self.config.ip, dst)
        self._send_ip(dst, PROTO_TCP, payload, ttl=ttl)

    def _backlog_full(self, port: int) -> bool:
        return len(self.accept_queue[port]) >= self.backlog[port]

    def _forget(self, key: ConnKey) -> None:
        """A closed connection goes, from its listener's accept queue too (it closed before
        anyone accepted it)."""
        del self.connections[key]
        if key in self._queued:
            self._queued.discard(key)
            queue = self.accept_queue.get(key[0])
            if queue is not None:
                queue.remove(key)

    # -- the socket API -------------------------------------------------------------------

    def listen(
        self, port: int, profile: Profile | None = None, backlog: int = DEFAULT_BACKLOG
    ) -> None:
        """LISTEN; at most ``backlog`` connections wait to be accepted (half-open included),
        further SYNs are dropped."""
        if port in self.listeners:
            raise HostError(f"port {port} is already listening")
        if backlog < 1:
            raise HostError(f"a listen backlog is at least 1, not {backlog}")
        self.listeners[port] = TcpListener(port, self.isn, profile or self.config.profile)
        self.accept_queue[port] = deque()
        self.backlog[port] = backlog

    def unlisten(self, port: int) -> None:
        self.listeners.pop(port, None)
        self.backlog.pop(port, None)
        for key in self.accept_queue.pop(port, ()):
            self._queued.discard(key)

    def accept(self, port: int) -> ConnKey | None:
        """An established connection from the port's queue, or None."""
        queue = self.accept_queue.get(port)
        if queue is None:
            raise HostError(f"port {port} is not listening")
        for key in list(queue):
            conn = self.connections.get(key)
            if conn is not None and conn.state not in (State.SYN_RECEIVED, State.CLOSED):
                queue.remove(key)
                self._queued.discard(key)
                return key
        return None

    def connect(
        self,
        ip: str,
        port: int,
        *,
        now: int,
        sport: int | None = None,
        profile: Profile | None = None,
    ) -> ConnKey:
        self.now = now
        target = ipaddress.ip_address(ip)
        if (
            target.is_multicast
            or target.is_unspecified
            or ip in (str(self.network.broadcast_address), "255.255.255.255")
        ):
            raise HostError(f"{ip} is a broadcast or multicast address (RFC 9293 MUST-46)")
        sport = sport or self._ephemeral()
        key = (sport, ip, port)
        if key in self.connections:
            raise HostError(f"connection {key} exists")
        probe = TcpSegment(port, sport, 0, 0, 0, 0)
        conn = TcpConnection.connect(
            sport, port, iss=self.isn(probe, now), now=now, profile=profile or self.config.profile
        )
        self.connections[key] = conn
        self._touch(key)
        return key

    def _ephemeral(self) -> int:
        while True:
            port = self._next_ephemeral
            self._next_ephemeral = 49152 + (self._next_ephemeral - 49152 + 1) % 16384
            if port not in self.listeners and not any(k[0] == port for k in self.connections):
                return port

    # Connection calls go through the host, which sends what they return.

    def tcp_send(
        self, key: ConnKey, data: bytes | memoryview, *, now: int, urgent: bool = False
    ) -> None:
        self.now = now
        self._send_segments(key[1], self.connection(key).send(data, now=now, urgent=urgent))

    def tcp_read(self, key: ConnKey, max_bytes: int, *, now: int) -> bytes:
        self.now = now
        conn = self.connection(key)
        data = conn.read(max_bytes, now=now)
        self._send_segments(key[1], conn.outgoing())  # a window update, if one is due
        return data

    def tcp_shutdown(self, key: ConnKey, *, now: int) -> None:
        self.now = now
        self._send_segments(key[1], self.connection(key).shutdown(now=now))

    def tcp_release(self, key: ConnKey, *, now: int) -> None:
        """The application closes the connection and reads no more (see TcpConnection.release)."""
        self.now = now
        self._send_segments(key[1], self.connection(key).release(now=now))

    def tcp_abort(self, key: ConnKey, *, now: int) -> None:
        self.now = now
        self._send_segments(key[1], self.connection(key).abort(now=now))

    def connection(self, key: ConnKey) -> TcpConnection:
        """The connection, marked as touched: whatever the caller does to it, its timers
        and its removal once closed are seen to by the next flush()."""
        try:
            conn = self.connections[key]
        except KeyError:
            raise HostError(f"no connection {key}") from None
        self._touch(key)
        return conn

    # -- UDP (RFC 768) --------------------------------------------------------------------

    def udp_bind(self, port: int) -> None:
        self.udp_ports.setdefault(port, deque())

    def udp_send(self, sport: int, dst: str, dport: int, data: bytes, *, now: int) -> None:
        self.now = now
        self._send_ip(dst, PROTO_UDP, Udp(sport, dport, data).emit(self.config.ip, dst))

    def udp_receive(self, port: int) -> tuple[str, int, bytes] | None:
        queue = self.udp_ports.get(port)
        return queue.popleft() if queue else None

    def _on_udp(self, packet: IPv4) -> None:
        try:
            datagram = Udp.parse(packet.payload)
        except WireError:
            self.drops["udp"] += 1
            return
        if not udp_checksum_ok(packet.src, packet.dst, packet.payload):
            self.drops["udp checksum"] += 1
            return
        queue = self.udp_ports.get(datagram.dport)
        if queue is not None and len(queue) < 1024:
            queue.append((packet.src, datagram.sport, datagram.payload))


def icmp_error_kind(message: Icmp) -> str:
    """RFC 9293 3.9.2.2: protocol and port unreachable are hard errors (SHLD-26; RFC 1122
    4.2.3.9 names code 4 too, which RFC 1191 has since given to path MTU discovery);
    fragmentation needed tells the path MTU; the rest is soft (MUST-55, MUST-56)."""
    if message.type == DEST_UNREACHABLE and message.code in (
        PROTOCOL_UNREACHABLE,
        PORT_UNREACHABLE,
    ):
        return "hard"
    if message.type == DEST_UNREACHABLE and message.code == FRAGMENTATION_NEEDED:
        return "mtu"
    return "soft"


# Parsing an address string costs more than the rest of a segment's IP handling: the answers
# per address are cached (a host talks to few addresses; the caches are bounded anyway).


@functools.lru_cache(maxsize=4096)
def _in_network(address: str, network: ipaddress.IPv4Network) -> bool:
    return ipaddress.ip_address(address) in network


@functools.lru_cache(maxsize=4096)
def _never_a_source(src: str) -> bool:
    """Multicast, class E (and 255.255.255.255 with it), zero or loopback (RFC 1122 3.2.1.3)."""
    address = ipaddress.ip_address(src)
    return (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (address.is_loopback)
    )
