"""Drive one reference connection by hand: a scripted remote peer with relative numbers."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.tcp.seq import add, diff
from reference_impl.wire.tcp import ACK, SYN, Mss, SackPermitted, TcpOption, TcpSegment, WindowScale

LOCAL, REMOTE = 5000, 40000
ISS = 1_000_000  # the connection's ISN
PEER_ISS = 4_294_967_000  # the scripted peer's ISN: close to 2**32, so numbers wrap
MS = 1000


@dataclass
class Remote:
    """The scripted side: builds segments in its own relative numbers (SYN at 0)."""

    conn: TcpConnection
    window: int = 65535
    now: int = 0

    def seg(
        self,
        rel_seq: int,
        flags: int = ACK,
        data: bytes = b"",
        *,
        ack: int | None = None,
        window: int | None = None,
        options: tuple[TcpOption, ...] = (),
    ) -> TcpSegment:
        ack_abs = add(self.conn.iss, 1 if ack is None else ack) if flags & ACK else 0
        if ack is None and flags & ACK:
            ack_abs = self.conn.snd_nxt
        return TcpSegment(
            REMOTE,
            LOCAL,
            add(PEER_ISS, rel_seq),
            ack_abs,
            flags,
            self.window if window is None else window,
            data,
            options,
        )

    def deliver(self, segment: TcpSegment, at_ms: float | None = None) -> list[TcpSegment]:
        if at_ms is not None:
            self.now = int(at_ms * MS)
        return self.conn.receive_segment(segment, now=self.now)

    def send(
        self, rel_seq: int, data: bytes = b"", flags: int = ACK, **kw: object
    ) -> list[TcpSegment]:
        return self.deliver(self.seg(rel_seq, flags, data, **kw))  # type: ignore[arg-type]

    def tick(self, at_ms: float) -> list[TcpSegment]:
        self.now = int(at_ms * MS)
        return self.conn.on_timer(now=self.now)

    def rel_ack(self, segment: TcpSegment) -> int:
        """The ACK number of a segment from the connection, relative to our ISN."""
        return diff(segment.ack, PEER_ISS)

    def rel_seq(self, segment: TcpSegment) -> int:
        return diff(segment.seq, self.conn.iss)


def syn(options: tuple[TcpOption, ...] = (Mss(1460),), window: int = 65535) -> TcpSegment:
    return TcpSegment(REMOTE, LOCAL, PEER_ISS, 0, SYN, window, b"", options)


def established(
    profile: Profile = RFC,
    *,
    mss: int = 1460,
    sack: bool = False,
    window: int = 65535,
    wscale: int | None = None,
) -> Remote:
    """A passive connection the scripted peer has opened: SYN, SYN-ACK, ACK."""
    options: list[TcpOption] = [Mss(mss)]
    if sack:
        options.append(SackPermitted())
    if wscale is not None:
        options.append(WindowScale(wscale))
    conn = TcpConnection.accept_syn(syn(tuple(options), window), iss=ISS, now=0, profile=profile)
    conn.outgoing()
    remote = Remote(conn, window=window)
    remote.send(1, ack=1)
    return remote
