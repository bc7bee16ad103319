"""A passive opener (RFC 9293 3.10.7.2) and the ISN generator of RFC 9293 3.4.1 / RFC 6528."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from reference_impl.tcp import seq
from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.wire.tcp import ACK, RST, SYN, TcpSegment

IsnSource = Callable[[TcpSegment, int], int]


def isn_generator(secret: bytes) -> IsnSource:
    """ISN = M + F(4-tuple, secret): a 4-microsecond clock (MUST-8) plus a keyed hash that
    cannot be computed from outside (SHLD-1, MUST-9). The secret comes from the caller."""

    def isn(syn: TcpSegment, now: int) -> int:
        digest = hashlib.sha256(
            secret + syn.sport.to_bytes(2, "big") + syn.dport.to_bytes(2, "big")
        ).digest()
        return seq.add(now // 4, int.from_bytes(digest[:4], "big"))

    return isn


class TcpListener:
    """LISTEN on a port: SYNs make connections; everything else gets the RFC's answer."""

    def __init__(self, port: int, isn: IsnSource, profile: Profile = RFC) -> None:
        self.port, self.isn, self.profile = port, isn, profile

    def receive_segment(
        self, seg: TcpSegment, *, now: int
    ) -> tuple[TcpConnection | None, list[TcpSegment]]:
        if seg.flags & RST:
            return None, []  # first: an incoming RST is ignored
        if seg.flags & ACK:  # second: any ACK is bad in LISTEN
            return None, [TcpSegment(seg.dport, seg.sport, seg.ack, 0, RST, 0)]
        if not seg.flags & SYN:
            return None, []
        conn = TcpConnection.accept_syn(seg, iss=self.isn(seg, now), now=now, profile=self.profile)
        return conn, conn.outgoing()
