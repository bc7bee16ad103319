"""A sans-I/O DHCP server (RFC 2131 sections 3 and 4.3; options per RFC 2132).

    server = DhcpServer(ServerConfig(...), store)
    replies = server.handle(message, now=now_us)     # [Reply(message, destination)]
    server.next_timer(); server.on_timer(now=now_us) # lease and offer expiry

Allocation (2131 section 1): manual (reservations), automatic (lease_time None: infinite) and
dynamic (a lease time). The choice of address for a DISCOVER follows 4.3.1: the client's
binding, then its previous address, then the requested address, then a free one. Leases live
in a LeaseStore (memory here; SQLite in harness.dhcp) so that a server can be killed and
restarted without losing one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Protocol

from reference_impl.wire.dhcp import (
    ACK,
    BOOTREPLY,
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    DNS_SERVERS,
    FLAG_BROADCAST,
    INFORM,
    LEASE_TIME,
    MESSAGE,
    MESSAGE_TYPE,
    NAK,
    OFFER,
    REBINDING_T2,
    RELEASE,
    RENEWAL_T1,
    REQUEST,
    REQUESTED_IP,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
    DhcpMessage,
)
from reference_impl.wire.ipv4 import ip_to_bytes

S = 1_000_000
RELAY_AGENT_INFORMATION = 82  # RFC 3046
INFINITE = 0xFFFFFFFF  # the lease time option's "infinity" (RFC 2132 9.2)
UNSPECIFIED = "0.0.0.0"
BROADCAST_IP = "255.255.255.255"


@dataclass(frozen=True)
class ServerConfig:
    server_id: str
    subnet: str  # e.g. "198.18.0.0/24"
    pool: tuple[str, str]  # first and last address handed out dynamically
    lease_time_s: int | None = 3600  # None: automatic allocation, an infinite lease
    t1_s: int | None = None  # RENEWAL (T1) option; None: half the lease (4.4.5's default)
    t2_s: int | None = None  # REBINDING (T2) option; None: 7/8 of the lease
    router: str | None = None
    dns: tuple[str, ...] = ()
    reservations: dict[str, str] = field(default_factory=dict)  # client key -> address
    offer_hold_s: int = 60  # how long an OFFER keeps its address for the client
    decline_probation_s: int = 600  # a DECLINEd address is handed to nobody for this long
    authoritative: bool = True  # NAK requests for addresses on the wrong network

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet, strict=False)


@dataclass(frozen=True)
class Lease:
    address: str
    client: str  # the client identifier option, else the hardware address (4.2)
    chaddr: str
    state: str  # offered, bound, released, expired, declined
    expires_us: int | None  # None: never (an infinite lease)


class LeaseStore(Protocol):
    def by_address(self, address: str) -> Lease | None: ...
    def by_client(self, client: str) -> list[Lease]: ...
    def put(self, lease: Lease) -> None: ...
    def all(self) -> list[Lease]: ...
    def next_expiry(self) -> int | None: ...  # the earliest expires_us of any lease
    def due(self, now: int) -> list[Lease]: ...  # leases whose expires_us <= now


class MemoryLeaseStore:
    def __init__(self) -> None:
        self.leases: dict[str, Lease] = {}

    def by_address(self, address: str) -> Lease | None:
        return self.leases.get(address)

    def by_client(self, client: str) -> list[Lease]:
        return [lease for lease in self.leases.values() if lease.client == client]

    def put(self, lease: Lease) -> None:
        self.leases[lease.address] = lease

    def all(self) -> list[Lease]:
        return list(self.leases.values())

    def next_expiry(self) -> int | None:
        times = [lease.expires_us for lease in self.leases.values() if lease.expires_us is not None]
        return min(times) if times else None

    def due(self, now: int) -> list[Lease]:
        return [
            lease
            for lease in self.leases.values()
            if lease.expires_us is not None and lease.expires_us <= now
        ]


@dataclass(frozen=True)
class Destination:
    """Where a reply goes (4.1): an IP address, the MAC to frame it for, and the port."""

    ip: str
    mac: str
    port: int


@dataclass(frozen=True)
class Reply:
    message: DhcpMessage
    destination: Destination


def client_key(message: DhcpMessage) -> str:
    client_id = message.option(CLIENT_ID)
    return "id:" + client_id.hex() if client_id else "hw:" + message.chaddr


def _echoed_client_id(msg: DhcpMessage) -> tuple[tuple[int, bytes], ...]:
    """RFC 6842 section 3 (updating 2131's table 3): a client identifier the client sent is
    returned unaltered in the reply."""
    client_id = msg.option(CLIENT_ID)
    return ((CLIENT_ID, client_id),) if client_id is not None else ()


def _echoed_agent_information(msg: DhcpMessage) -> tuple[tuple[int, bytes], ...]:
    """RFC 3046 2.2: the relay agent information a relay added comes back unchanged, as the
    last option, so that the relay can use it and strip it."""
    info = msg.option(RELAY_AGENT_INFORMATION) if msg.giaddr != UNSPECIFIED else None
    return ((RELAY_AGENT_INFORMATION, info),) if info is not None else ()


class DhcpServer:
    def __init__(self, config: ServerConfig, store: LeaseStore | None = None) -> None:
        self.config = config
        self.store: LeaseStore = store if store is not None else MemoryLeaseStore()
        if config.lease_time_s is not None and (config.t1_s, config.t2_s) != (None, None):
            lease = config.lease_time_s
            t1 = lease // 2 if config.t1_s is None else config.t1_s
            t2 = lease * 7 // 8 if config.t2_s is None else config.t2_s
            if not 0 < t1 < t2 < lease:
                raise ValueError(f"T1 {t1} < T2 {t2} < lease time {lease} (RFC 2131 4.4.5)")
        first, last = (int(ipaddress.IPv4Address(a)) for a in config.pool)
        if first > last or not all(ipaddress.IPv4Address(a) in config.network for a in config.pool):
            raise ValueError(f"pool {config.pool} is not an ordered range inside {config.subnet}")
        self._pool_addresses = [str(ipaddress.IPv4Address(n)) for n in range(first, last + 1)]
        self._in_pool = set(self._pool_addresses)
        self._reserved = set(config.reservations.values())
        # The state of every address the store knows, kept beside it (this server is the
        # store's only writer), so that choosing a free address reads no rows.
        self._states = {lease.address: lease.state for lease in self.store.all()}
        self.dropped: list[str] = []  # why messages got no answer (for reports)

    # -- time -----------------------------------------------------------------------------

    def next_timer(self) -> int | None:
        # Only offered, bound and declined leases carry an expiry time.
        return self.store.next_expiry()

    def on_timer(self, *, now: int) -> None:
        """Offers lapse, leases expire, declined addresses come out of probation."""
        for lease in self.store.due(now):
            if lease.state == "offered":
                self._put(replace(lease, state="released", expires_us=None))
            elif lease.state == "bound":
                self._put(replace(lease, state="expired", expires_us=None))
            elif lease.state == "declined":
                self._put(replace(lease, state="expired", client="", expires_us=None))

    # -- messages ------------------------------------------------------------------------

    def handle(self, message: DhcpMessage, *, now: int) -> list[Reply]:
        self.on_timer(now=now)
        kind = message.message_type
        handler = {
            DISCOVER: self._discover,
            REQUEST: self._request,
            DECLINE: self._decline,
            RELEASE: self._release,
            INFORM: self._inform,
        }.get(kind or 0)
        if message.op != 1 or handler is None:
            self.dropped.append(f"not a client message we answer (op {message.op}, type {kind})")
            return []
        return handler(message, now)

    def _discover(self, msg: DhcpMessage, now: int) -> list[Reply]:
        address = self._choose(msg, now)
        if address is None:
            self.dropped.append("no free address")
            return []
        self._record(msg, address, "offered", now + self.config.offer_hold_s * S)
        return [self._reply(msg, OFFER, yiaddr=address)]

    def _choose(self, msg: DhcpMessage, now: int) -> str | None:
        """4.3.1: binding, previous address, requested address, then any free one."""
        key = client_key(msg)
        reserved = self.config.reservations.get(key) or self.config.reservations.get(msg.chaddr)
        if reserved:
            return reserved
        mine = sorted(self.store.by_client(key), key=lambda lease: lease.state != "bound")
        for lease in mine:
            if lease.state in ("bound", "offered", "released", "expired"):
                return lease.address
        requested = msg.option_ip(REQUESTED_IP)
        if requested and self._free(requested, reuse=False):
            return requested
        # Never-used addresses first: another client's old address is reused only when nothing
        # else is left, so that clients tend to get their previous address back (4.3.1).
        for reuse in (False, True):
            for candidate in self._pool_addresses:
                if self._free(candidate, reuse=reuse):
                    return candidate
        return None

    def _free(self, address: str, *, reuse: bool) -> bool:
        if address not in self._in_pool or address == self.config.server_id:
            return False
        if address in self._reserved:
            return False
        state = self._states.get(address)
        if state is None:
            return True
        return reuse and state in ("released", "expired")

    def _request(self, msg: DhcpMessage, now: int) -> list[Reply]:
        server_id = msg.option_ip(SERVER_ID)
        requested = msg.option_ip(REQUESTED_IP)
        key = client_key(msg)
        if server_id is not None:  # SELECTING (4.3.2)
            if server_id != self.config.server_id:
                self._forget_offer(key)  # the client chose another server: stay silent
                self.dropped.append("REQUEST for another server")
                return []
            return self._confirm(msg, requested, key, now)
        if msg.ciaddr == UNSPECIFIED:  # INIT-REBOOT
            if requested is None or ipaddress.IPv4Address(requested) not in self.config.network:
                return [self._nak(msg, "requested address is not on this network")]
            leases = [lease for lease in self.store.by_client(key) if lease.state == "bound"]
            if not leases:
                self.dropped.append("INIT-REBOOT from a client we have no record of")
                return []  # 4.3.2: not authoritative for this client: silent
            return self._confirm(msg, requested, key, now)
        # RENEWING (unicast) or REBINDING (broadcast): ciaddr is the address in use
        lease = self.store.by_address(msg.ciaddr)
        if lease is None or lease.client != key or lease.state != "bound":
            if ipaddress.IPv4Address(msg.ciaddr) not in self.config.network:
                return [self._nak(msg, "address is not on this network")]
            self.dropped.append("RENEW/REBIND for a lease we do not hold")
            return []
        return self._confirm(msg, msg.ciaddr, key, now)

    def _confirm(self, msg: DhcpMessage, address: str | None, key: str, now: int) -> list[Reply]:
        lease = self.store.by_address(address) if address else None
        reserved = self.config.reservations.get(key) or self.config.reservations.get(msg.chaddr)
        acceptable = address is not None and (
            address == reserved
            or (lease is not None and lease.client == key and lease.state in ("offered", "bound"))
        )
        if not acceptable:
            return [self._nak(msg, f"{address} is not yours")]
        assert address is not None
        expires = None if self.config.lease_time_s is None else now + self.config.lease_time_s * S
        self._record(msg, address, "bound", expires)
        return [self._reply(msg, ACK, yiaddr=address, ciaddr=msg.ciaddr)]

    def _decline(self, msg: DhcpMessage, now: int) -> list[Reply]:
        """4.3.3: the address is in use elsewhere: nobody gets it during the probation."""
        address = msg.option_ip(REQUESTED_IP)
        if address and msg.option_ip(SERVER_ID) in (None, self.config.server_id):
            until = now + self.config.decline_probation_s * S
            self._put(Lease(address, "", msg.chaddr, "declined", until))
        return []

    def _release(self, msg: DhcpMessage, now: int) -> list[Reply]:
        """4.3.4: the address is free again; the client's record is kept, so that it gets the
        same address back next time."""
        lease = self.store.by_address(msg.ciaddr)
        if lease is not None and lease.client == client_key(msg):
            self._put(replace(lease, state="released", expires_us=None))
        return []

    def _inform(self, msg: DhcpMessage, now: int) -> list[Reply]:
        """4.3.5: configuration only: no lease time, no yiaddr, unicast to ciaddr."""
        return [self._reply(msg, ACK, yiaddr=UNSPECIFIED, ciaddr=msg.ciaddr, lease=False)]

    def _forget_offer(self, key: str) -> None:
        for lease in self.store.by_client(key):
            if lease.state == "offered":
                self._put(replace(lease, state="released", expires_us=None))

    def _put(self, lease: Lease) -> None:
        self.store.put(lease)
        self._states[lease.address] = lease.state

    def _record(self, msg: DhcpMessage, address: str, state: str, expires: int | None) -> None:
        self._put(Lease(address, client_key(msg), msg.chaddr, state, expires))

    # -- replies (4.1 and table 3) --------------------------------------------------------

    def _options(self, kind: int, lease: bool) -> list[tuple[int, bytes]]:
        cfg = self.config
        options = [(MESSAGE_TYPE, bytes([kind])), (SERVER_ID, ip_to_bytes(cfg.server_id))]
        if lease:
            seconds = INFINITE if cfg.lease_time_s is None else cfg.lease_time_s
            options.append((LEASE_TIME, seconds.to_bytes(4, "big")))
            if cfg.lease_time_s is not None:
                t1 = seconds // 2 if cfg.t1_s is None else cfg.t1_s
                t2 = seconds * 7 // 8 if cfg.t2_s is None else cfg.t2_s
                options.append((RENEWAL_T1, t1.to_bytes(4, "big")))
                options.append((REBINDING_T2, t2.to_bytes(4, "big")))
        options.append((SUBNET_MASK, ip_to_bytes(str(cfg.network.netmask))))
        if cfg.router:
            options.append((ROUTER, ip_to_bytes(cfg.router)))
        if cfg.dns:
            options.append((DNS_SERVERS, b"".join(ip_to_bytes(a) for a in cfg.dns)))
        return options

    def _reply(
        self,
        msg: DhcpMessage,
        kind: int,
        *,
        yiaddr: str,
        ciaddr: str = UNSPECIFIED,
        lease: bool = True,
    ) -> Reply:
        reply = DhcpMessage(
            BOOTREPLY,
            msg.xid,
            msg.chaddr,
            tuple(self._options(kind, lease))
            + _echoed_client_id(msg)
            + _echoed_agent_information(msg),
            secs=0,
            flags=msg.flags,
            ciaddr=ciaddr,
            yiaddr=yiaddr,
            giaddr=msg.giaddr,
            htype=msg.htype,
            hlen=msg.hlen,
        )
        return Reply(reply, self._destination(msg, reply))

    def _nak(self, msg: DhcpMessage, why: str) -> Reply:
        options = (
            (MESSAGE_TYPE, bytes([NAK])),
            (SERVER_ID, ip_to_bytes(self.config.server_id)),
            (MESSAGE, why.encode()[:255]),
            *_echoed_client_id(msg),
            *_echoed_agent_information(msg),
        )
        # 4.3.2: a NAK through a relay has the BROADCAST bit set: the client may not have a
        # working address, so the relay must broadcast the NAK to it.
        relayed = msg.giaddr != UNSPECIFIED
        reply = DhcpMessage(
            BOOTREPLY,
            msg.xid,
            msg.chaddr,
            options,
            flags=msg.flags | FLAG_BROADCAST if relayed else msg.flags,
            giaddr=msg.giaddr,
            htype=msg.htype,
            hlen=msg.hlen,
        )
        return Reply(reply, self._destination(msg, reply))

    @staticmethod
    def _destination(msg: DhcpMessage, reply: DhcpMessage) -> Destination:
        """4.1: to the relay; a NAK broadcast; to ciaddr; broadcast if the client asked;
        else unicast to yiaddr at the client's hardware address."""
        if msg.giaddr != UNSPECIFIED:
            return Destination(msg.giaddr, "", 67)
        if reply.message_type == NAK:
            return Destination(BROADCAST_IP, "ff:ff:ff:ff:ff:ff", 68)
        if msg.ciaddr != UNSPECIFIED:
            return Destination(msg.ciaddr, msg.chaddr, 68)
        if msg.flags & FLAG_BROADCAST or reply.yiaddr == UNSPECIFIED:
            return Destination(BROADCAST_IP, "ff:ff:ff:ff:ff:ff", 68)
        return Destination(reply.yiaddr, msg.chaddr, 68)
