"""A sans-I/O DHCP client (RFC 2131 sections 4.1 and 4.4, figure 5 of section 4.4).

Randomness (transaction IDs, the retransmission jitter) comes from callables the caller
injects, so a test can make it deterministic. The ARP check of an offered address is the
host's job: after an ACK the client waits in ``CHECKING`` until ``arp_result`` says whether
someone else answered for the address.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from reference_impl.dhcp.server import BROADCAST_IP, INFINITE, UNSPECIFIED, Destination
from reference_impl.wire.dhcp import (
    ACK,
    BOOTREQUEST,
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    FLAG_BROADCAST,
    LEASE_TIME,
    MAX_MESSAGE_SIZE,
    MESSAGE_TYPE,
    NAK,
    OFFER,
    PARAMETER_LIST,
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
DECLINE_WAIT_S = 10  # 4.4.1: wait at least ten seconds after a DECLINE
MIN_RENEW_RETRY_S = 60  # 4.4.5: retransmissions in RENEWING/REBINDING no closer than 60 s
MAX_BACKOFF_S = 64  # 4.1: the exponential backoff stops growing at 64 s


class ClientState(Enum):
    INIT = "INIT"
    SELECTING = "SELECTING"
    REQUESTING = "REQUESTING"
    CHECKING = "CHECKING"  # ARP check of the address the server gave (4.4.1)
    BOUND = "BOUND"
    RENEWING = "RENEWING"
    REBINDING = "REBINDING"
    INIT_REBOOT = "INIT-REBOOT"
    REBOOTING = "REBOOTING"


class ClientEvent(Enum):
    START = "start without a previous address (DISCOVER)"
    REBOOT = "start with a previous address"
    REQUEST_SENT = "REQUEST for the previous address sent"
    OFFER = "DHCPOFFER received (REQUEST sent)"
    ACK = "DHCPACK received"
    NAK = "DHCPNAK received"
    ADDRESS_FREE = "nobody answered the ARP check"
    ADDRESS_IN_USE = "someone answered the ARP check (DECLINE sent)"
    T1 = "T1 expired (REQUEST unicast to the server)"
    T2 = "T2 expired (REQUEST broadcast)"
    LEASE_EXPIRED = "the lease ran out"
    RELEASE = "the application gave the lease up (RELEASE sent)"


C, CE = ClientState, ClientEvent
# Figure 5 of RFC 2131 section 4.4, with the ARP check of 4.4.1 as a state of its own.
CLIENT_TRANSITIONS: dict[tuple[ClientState, ClientEvent], ClientState] = {
    (C.INIT, CE.START): C.SELECTING,
    (C.INIT, CE.REBOOT): C.INIT_REBOOT,
    (C.INIT_REBOOT, CE.REQUEST_SENT): C.REBOOTING,
    (C.SELECTING, CE.OFFER): C.REQUESTING,
    (C.REQUESTING, CE.ACK): C.CHECKING,
    (C.REBOOTING, CE.ACK): C.CHECKING,
    (C.CHECKING, CE.ADDRESS_FREE): C.BOUND,
    (C.CHECKING, CE.ADDRESS_IN_USE): C.INIT,
    (C.BOUND, CE.T1): C.RENEWING,
    (C.RENEWING, CE.T2): C.REBINDING,
    (C.RENEWING, CE.ACK): C.BOUND,
    (C.REBINDING, CE.ACK): C.BOUND,
    **{(state, CE.NAK): C.INIT for state in (C.REQUESTING, C.REBOOTING, C.RENEWING, C.REBINDING)},
    **{(state, CE.LEASE_EXPIRED): C.INIT for state in (C.BOUND, C.RENEWING, C.REBINDING)},
    **{(state, CE.RELEASE): C.INIT for state in (C.BOUND, C.RENEWING, C.REBINDING)},
}


class ClientTransitionError(RuntimeError):
    """An event figure 5 does not allow in the client's state (a bug in the caller)."""


def next_client_state(state: ClientState, event: ClientEvent) -> ClientState:
    try:
        return CLIENT_TRANSITIONS[(state, event)]
    except KeyError:
        raise ClientTransitionError(f"{event.value} is not possible in {state.value}") from None


@dataclass(frozen=True)
class Outgoing:
    message: DhcpMessage
    source_ip: str
    destination: Destination


MAX_REPLY_BYTES = 1500 - 20 - 8  # RFC 2132 9.10; at least 576


@dataclass
class Binding:
    address: str
    server_id: str
    lease_s: int
    netmask: str | None
    router: str | None
    bound_at_us: int
    t1_s: float | None = None  # the server's T1 and T2 options; None: 4.4.5's defaults
    t2_s: float | None = None

    def at(self, fraction: float) -> int:
        return self.bound_at_us + int(self.lease_s * fraction * S)

    @property
    def t1_us(self) -> int:
        return self.at(0.5) if self.t1_s is None else self.bound_at_us + int(self.t1_s * S)

    @property
    def t2_us(self) -> int:
        return self.at(0.875) if self.t2_s is None else self.bound_at_us + int(self.t2_s * S)


class DhcpClient:
    def __init__(
        self,
        chaddr: str,
        *,
        xid: Callable[[], int],
        jitter: Callable[[], float],
        client_id: bytes | None = None,
    ) -> None:
        self.chaddr = chaddr
        self.client_id = (
            client_id if client_id is not None else b"\x01" + bytes.fromhex(chaddr.replace(":", ""))
        )  # 4.2 / RFC 2132 9.14: type 1 (Ethernet) + MAC
        self._new_xid, self._jitter = xid, jitter
        self.state = ClientState.INIT
        self.xid = 0
        self.binding: Binding | None = None
        self.offer: DhcpMessage | None = None
        self.pending_check: DhcpMessage | None = None
        self.timer: int | None = None
        self._attempt = 0
        self._last: Outgoing | None = None
        # 4.4.1 / 4.4.5: a lease runs from when the REQUEST that got it was sent.
        self._request_sent_us: int | None = None
        self.history: list[tuple[int, str]] = []  # (time, what happened), for reports

    # -- the application ----------------------------------------------------------------

    def start(self, *, now: int, previous: str | None = None) -> list[Outgoing]:
        """INIT (DISCOVER) or, knowing a previous address, INIT-REBOOT (REQUEST)."""
        self.xid = self._new_xid() & 0xFFFFFFFF
        self._attempt = 0
        if previous is not None:
            self._go(ClientEvent.REBOOT)
            self._go(ClientEvent.REQUEST_SENT)
            return self._send(self._message(REQUEST, requested=previous), now)
        self._go(ClientEvent.START)
        return self._send(self._message(DISCOVER), now)

    def release(self, *, now: int) -> list[Outgoing]:
        """4.4.6: RELEASE, unicast to the server, then forget the address."""
        if self.binding is None:
            return []
        msg = self._message(RELEASE, ciaddr=self.binding.address, server_id=self.binding.server_id)
        out = [Outgoing(msg, self.binding.address, Destination(self.binding.server_id, "", 67))]
        self._go(ClientEvent.RELEASE)
        self.binding, self.timer = None, None
        return out

    # -- the network ----------------------------------------------------------------------

    def receive(self, message: DhcpMessage, *, now: int) -> list[Outgoing]:
        if message.op != 2 or message.xid != self.xid or message.chaddr != self.chaddr:
            return []  # 4.4.1: not a reply to our transaction
        kind = message.message_type
        if self.state == ClientState.SELECTING and kind == OFFER:
            self.offer = message
            self._go(ClientEvent.OFFER)
            self._attempt = 0
            return self._send(
                self._message(
                    REQUEST,
                    requested=message.yiaddr,
                    server_id=message.option_ip(SERVER_ID),
                ),
                now,
            )
        waiting = (
            ClientState.REQUESTING,
            ClientState.REBOOTING,
            ClientState.RENEWING,
            ClientState.REBINDING,
        )
        if self.state in waiting and kind == NAK:
            self.history.append((now, "NAK: back to INIT"))
            self._go(ClientEvent.NAK)
            self.binding, self.timer = None, now
            return []
        if self.state in waiting and kind == ACK:
            renewing = self.state in (ClientState.RENEWING, ClientState.REBINDING)
            self._go(ClientEvent.ACK)
            if renewing:
                return self._bind(message, now)
            self.pending_check, self.timer = message, None
        return []

    def arp_result(self, *, conflict: bool, now: int) -> list[Outgoing]:
        """The host's ARP probe for the offered address: a conflict means DECLINE (4.4.1)."""
        ack = self.pending_check
        if self.state != ClientState.CHECKING or ack is None:
            return []
        self.pending_check = None
        if not conflict:
            self._go(ClientEvent.ADDRESS_FREE)
            return self._bind(ack, now)
        decline = self._message(DECLINE, requested=ack.yiaddr, server_id=ack.option_ip(SERVER_ID))
        self.history.append((now, f"DECLINE {ack.yiaddr}: someone answered ARP for it"))
        self._go(ClientEvent.ADDRESS_IN_USE)
        self.timer = now + DECLINE_WAIT_S * S
        return [Outgoing(decline, UNSPECIFIED, Destination(BROADCAST_IP, "ff:ff:ff:ff:ff:ff", 67))]

    def _bind(self, ack: DhcpMessage, now: int) -> list[Outgoing]:
        lease = ack.option_u32(LEASE_TIME) or INFINITE
        start = self._request_sent_us if self._request_sent_us is not None else now
        t1, t2 = ack.option_u32(RENEWAL_T1), ack.option_u32(REBINDING_T2)
        if not (t1 is None or t2 is None or t1 < t2 < lease):
            t1 = t2 = None  # 4.4.5: T1 < T2 < lease; otherwise the defaults
        self.binding = Binding(
            ack.yiaddr,
            ack.option_ip(SERVER_ID) or "",
            lease,
            ack.option_ip(SUBNET_MASK),
            ack.option_ip(ROUTER),
            start,
            t1,
            t2,
        )
        self.timer = None if lease == INFINITE else self.binding.t1_us
        self.history.append((now, f"BOUND to {ack.yiaddr} for {lease} s"))
        return []

    # -- timers ---------------------------------------------------------------------------

    def next_timer(self) -> int | None:
        return self.timer

    def on_timer(self, *, now: int) -> list[Outgoing]:
        if self.timer is None or now < self.timer:
            return []
        if self.state == ClientState.INIT:
            return self.start(now=now)
        if self.state in (ClientState.SELECTING, ClientState.REQUESTING, ClientState.REBOOTING):
            return self._send(self._last.message if self._last else self._message(DISCOVER), now)
        if self.binding is None:
            return []
        if now >= self.binding.at(1.0):  # 4.4.5: the lease ran out: start over
            self.history.append((now, "lease expired"))
            self._go(ClientEvent.LEASE_EXPIRED)
            self.binding = None
            return self.start(now=now)
        if self.state == ClientState.BOUND:
            self._go(ClientEvent.T1)
            self.xid = self._new_xid() & 0xFFFFFFFF
        t2 = self.binding.t2_us
        if self.state == ClientState.RENEWING and now >= t2:
            self._go(ClientEvent.T2)
        return self._renew_or_rebind(now, t2)

    def _renew_or_rebind(self, now: int, t2: int) -> list[Outgoing]:
        """4.4.5: RENEWING unicasts to the server; REBINDING broadcasts. Retry after half of
        the time left to T2 (or to the lease's end), never sooner than 60 s."""
        assert self.binding is not None
        msg = self._message(REQUEST, ciaddr=self.binding.address)
        if self.state == ClientState.RENEWING:
            dest = Destination(self.binding.server_id, "", 67)
            until = t2
        else:
            dest = Destination(BROADCAST_IP, "ff:ff:ff:ff:ff:ff", 67)
            until = self.binding.at(1.0)
        self.timer = min(until, now + max((until - now) // 2, MIN_RENEW_RETRY_S * S))
        self._request_sent_us = now
        return [Outgoing(msg, self.binding.address, dest)]

    def _go(self, event: ClientEvent) -> None:
        self.state = next_client_state(self.state, event)

    # -- messages -------------------------------------------------------------------------

    def _send(self, msg: DhcpMessage, now: int) -> list[Outgoing]:
        """Broadcast from 0.0.0.0 (the client has no address yet), with the randomised
        exponential backoff of 4.1: 4 s, 8 s, ... up to 64 s, each +- 1 s."""
        out = Outgoing(msg, UNSPECIFIED, Destination(BROADCAST_IP, "ff:ff:ff:ff:ff:ff", 67))
        self._last = out
        if msg.message_type == REQUEST:
            self._request_sent_us = now
        base = min(4 * 2**self._attempt, MAX_BACKOFF_S)
        self._attempt += 1
        self.timer = now + int((base + max(-1.0, min(1.0, self._jitter()))) * S)
        return [out]

    def _message(
        self,
        kind: int,
        *,
        requested: str | None = None,
        server_id: str | None = None,
        ciaddr: str = UNSPECIFIED,
    ) -> DhcpMessage:
        options: list[tuple[int, bytes]] = [
            (MESSAGE_TYPE, bytes([kind])),
            (CLIENT_ID, self.client_id),
        ]
        if requested:
            options.append((REQUESTED_IP, ip_to_bytes(requested)))
        if server_id:
            options.append((SERVER_ID, ip_to_bytes(server_id)))
        if kind in (DISCOVER, REQUEST):
            options.append((PARAMETER_LIST, bytes([SUBNET_MASK, ROUTER, LEASE_TIME])))
            # 3.5: how large a reply may be: an Ethernet frame's IP payload less UDP/IP headers
            options.append((MAX_MESSAGE_SIZE, MAX_REPLY_BYTES.to_bytes(2, "big")))
        flags = FLAG_BROADCAST if ciaddr == UNSPECIFIED and kind != DECLINE else 0
        return DhcpMessage(
            BOOTREQUEST, self.xid, self.chaddr, tuple(options), flags=flags, ciaddr=ciaddr
        )
