"""The AIMD argument, run on the reference: two flows share one bottleneck and converge
towards equal shares (additive increase, multiplicative decrease; RFC 5681).

Deterministic: a simulated link (reference_impl.simlink) with a drop-tail queue, virtual
time, one seed. The result is a time series that a plot or a test can read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reference_impl.simlink import Link, Simulation
from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.listener import TcpListener, isn_generator
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.wire.tcp import TcpSegment

S = 1_000_000


class BulkSender:
    """Keeps the send buffer full for the whole run."""

    def __init__(self, port: int, profile: Profile, start_us: int) -> None:
        self.conn = TcpConnection(port, 80, iss=port * 1000, profile=profile)
        self.start_us, self.started = start_us, False
        self.block = bytes(64 * 1024)

    def next_timer(self) -> int | None:
        return self.start_us if not self.started else self.conn.next_timer()

    def on_timer(self, *, now: int) -> list[TcpSegment]:
        if not self.started:
            self.started = True
            self.conn = TcpConnection.connect(
                self.conn.local_port, 80, iss=self.conn.iss, now=now, profile=self.conn.profile
            )
            return self.conn.outgoing()
        return self.conn.on_timer(now=now) + self._fill(now)

    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]:
        return self.conn.receive_segment(segment, now=now) + self._fill(now)

    def _fill(self, now: int) -> list[TcpSegment]:
        out: list[TcpSegment] = []
        while self.conn.state.value == "ESTABLISHED" and self.conn.send_space >= len(self.block):
            out += self.conn.send(self.block, now=now)
        return out


class Sink:
    """Accepts one connection and reads everything at once; counts the bytes."""

    def __init__(self, profile: Profile) -> None:
        self.listener = TcpListener(80, isn_generator(b"aimd"), profile)
        self.conn: TcpConnection | None = None
        self.received = 0

    def next_timer(self) -> int | None:
        return self.conn.next_timer() if self.conn else None

    def on_timer(self, *, now: int) -> list[TcpSegment]:
        return self.conn.on_timer(now=now) if self.conn else []

    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]:
        if self.conn is None:
            self.conn, out = self.listener.receive_segment(segment, now=now)
            return out
        out = self.conn.receive_segment(segment, now=now)
        self.received += len(self.conn.read(1 << 30, now=now))
        return out + self.conn.outgoing()


@dataclass
class AimdRun:
    times_s: list[float] = field(default_factory=list)
    cwnd: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    throughput_bps: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    bottleneck_bps: float = 0.0

    def fairness(self, from_s: float) -> float:
        """Jain's index of the two flows' mean throughput after ``from_s`` (1.0 = equal)."""
        a, b = (self._mean(series, from_s) for series in self.throughput_bps)
        return (a + b) ** 2 / (2 * (a * a + b * b)) if a + b else 0.0

    def utilisation(self, from_s: float) -> float:
        total = sum(self._mean(series, from_s) for series in self.throughput_bps)
        return total / self.bottleneck_bps

    def _mean(self, series: list[float], from_s: float) -> float:
        values = [v for t, v in zip(self.times_s, series, strict=True) if t >= from_s]
        return sum(values) / len(values) if values else 0.0


def run_aimd(
    *,
    seconds: float = 60.0,
    second_start_s: float = 10.0,
    rate_mbps: float = 10.0,
    rtt_ms: float = 20.0,
    queue_packets: int = 30,
    seed: int = 7,
    sample_s: float = 0.5,
    profile: Profile = RFC,
    progress: Callable[[float], None] | None = None,
) -> AimdRun:
    """Flow 1 starts at 0 s, flow 2 at ``second_start_s``; both cross one bottleneck."""
    profile = profile.with_(rcvbuf=1 << 20, window_scale=6, sndbuf=1 << 20, sack=False)
    sim = Simulation(seed)
    rate = rate_mbps * 1e6 / 8 / 1e6  # bytes per microsecond
    bottleneck = Link(
        delay_us=int(rtt_ms * 500),
        rate_bytes_per_us=rate,
        queue_bytes=queue_packets * (profile.mss + 40),
    )
    senders = [BulkSender(41000, profile, 0), BulkSender(42000, profile, int(second_start_s * S))]
    sinks = [Sink(profile), Sink(profile)]
    for i, (sender, sink) in enumerate(zip(senders, sinks, strict=True)):
        sim.add(f"s{i}", sender)
        sim.add(f"r{i}", sink)
        sim.connect(f"s{i}", f"r{i}", bottleneck, Link(delay_us=int(rtt_ms * 500)))
    run = AimdRun(bottleneck_bps=rate_mbps * 1e6)
    last = [0, 0]
    step = int(sample_s * S)
    for tick in range(1, int(seconds / sample_s) + 1):
        sim.run(tick * step)
        run.times_s.append(tick * sample_s)
        for i in range(2):
            got = sinks[i].received
            run.throughput_bps[i].append((got - last[i]) * 8 / sample_s)
            last[i] = got
            run.cwnd[i].append(senders[i].conn.cc.cwnd)
        if progress:
            progress(tick * sample_s / seconds)
    return run
