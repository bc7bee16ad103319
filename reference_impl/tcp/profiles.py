"""Behaviour profiles: what the RFCs require (``rfc``) versus what a Linux-like stack does
(``linux``). The oracle uses them to tell a requirement from a habit."""

from __future__ import annotations

from dataclasses import dataclass, replace

MS = 1_000
S = 1_000_000


@dataclass(frozen=True)
class Profile:
    name: str
    # Acknowledgements (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2)
    delayed_ack: bool = True
    ack_delay_us: int = 200 * MS  # MUST-40: below 500 ms
    ack_every_full_segments: int = 2  # SHLD-19: at least every second full-sized segment
    quickack_segments: int = 0  # Linux ACKs the first segments at once
    # Retransmission (RFC 6298)
    initial_rto_us: int = 1 * S
    min_rto_us: int = 1 * S
    max_rto_us: int = 60 * S
    clock_granularity_us: int = 1 * MS
    # SYN retransmissions: RTOs 1, 2, ... 32, 60 s put the 7th at 123 s and giving up at
    # 183 s, past the 3 minutes MUST-23 asks of a connection attempt.
    syn_retries: int = 7
    data_retries: int = 15  # R2: give up after this many retransmissions (MUST-20)
    # Congestion control (RFC 5681, RFC 6582, RFC 6675)
    initial_window_segments: int = 4  # RFC 5681 3.1 gives 2-4 by SMSS; RFC 6928 allows 10
    dupack_threshold: int = 3
    sack: bool = True
    sack_recovery: bool = False  # RFC 6675 loss recovery
    # Windows and segments
    mss: int = 1460  # what we announce: the interface MTU less 40
    default_peer_mss: int = 536  # MUST-15: when the peer sent no MSS option
    rcvbuf: int = 65535
    sndbuf: int = 256 * 1024
    window_scale: int | None = None  # shift to offer (RFC 7323); None: no option
    nagle: bool = True  # SHLD-7
    zero_window_probe: str = "one_byte"  # or "below_una": an empty segment at SND.UNA-1
    persist_max_us: int = 60 * S
    time_wait_us: int = 60 * S  # 2 MSL (configurable; RFC 9293 says 2 x 2 minutes)
    # Keep-alives (RFC 9293 3.8.4): off unless the application asks (MUST-25)
    keepalive_idle_us: int = 0  # idle time before the first probe; 0: off
    keepalive_interval_us: int = 75 * S  # between unanswered probes
    keepalive_probes: int = 9  # unanswered probes before giving up (MUST-29: more than one)
    ttl: int = 64  # of the connection's datagrams; the application may set it (MUST-49)

    def __post_init__(self) -> None:
        if not 0 < self.ack_delay_us < 500 * MS:
            raise ValueError(
                f"ack_delay_us must be below 500 ms (RFC 9293 MUST-40), got {self.ack_delay_us}"
            )
        if self.min_rto_us > self.max_rto_us or self.max_rto_us < 60 * S:
            raise ValueError("RTO bounds: min <= max and a maximum of at least 60 s (RFC 6298 2.5)")
        if self.mss < 88 or self.rcvbuf < self.mss:
            raise ValueError(f"mss {self.mss} and rcvbuf {self.rcvbuf} do not make a usable window")

    def with_(self, **changes: object) -> Profile:
        return replace(self, **changes)  # type: ignore[arg-type]


RFC = Profile(name="rfc")
LINUX = Profile(
    name="linux",
    syn_retries=6,  # net.ipv4.tcp_syn_retries
    ack_delay_us=40 * MS,
    quickack_segments=16,
    min_rto_us=200 * MS,
    max_rto_us=120 * S,
    initial_window_segments=10,
    rcvbuf=131072,
    window_scale=7,
    sack_recovery=True,  # Linux recovers with SACK (RFC 6675 and later RACK)
    zero_window_probe="below_una",
    time_wait_us=60 * S,
)
PROFILES = {p.name: p for p in (RFC, LINUX)}
