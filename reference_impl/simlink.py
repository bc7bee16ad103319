"""A deterministic, seeded network simulation for reference endpoints (tests, the AIMD demo).

Time is virtual (integer microseconds); the only randomness is a local xorshift generator
seeded by the caller, so the same seed gives the same run. Links can delay, drop, duplicate
and reorder segments, and model a bottleneck: a rate and a drop-tail queue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from reference_impl.wire.tcp import TcpSegment


class Endpoint(Protocol):
    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]: ...
    def next_timer(self) -> int | None: ...
    def on_timer(self, *, now: int) -> list[TcpSegment]: ...


class XorShift:
    """xorshift64*: enough randomness for impairments, and reproducible from a seed."""

    def __init__(self, seed: int) -> None:
        self.state = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF or 1

    def random(self) -> float:
        x = self.state
        x ^= (x >> 12) & 0xFFFFFFFFFFFFFFFF
        x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF
        x ^= (x >> 27) & 0xFFFFFFFFFFFFFFFF
        self.state = x
        return ((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) / 2**64


@dataclass
class Link:
    """One direction of a path."""

    delay_us: int = 1_000
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # probability that a segment is held back by reorder_delay_us
    reorder_delay_us: int = 3_000
    rate_bytes_per_us: float | None = None  # bottleneck rate; None: unlimited
    queue_bytes: int = 64 * 1024  # drop-tail queue in front of the bottleneck
    busy_until: int = 0
    queued: list[tuple[int, int]] = field(default_factory=list)  # (leave time, size)
    dropped: int = 0
    delivered: int = 0


@dataclass(order=True)
class _Arrival:
    at: int
    order: int
    dest: str = field(compare=False)
    segment: TcpSegment = field(compare=False)


class Simulation:
    def __init__(self, seed: int = 1) -> None:
        self.now = 0
        self.rng = XorShift(seed)
        self.endpoints: dict[str, Endpoint] = {}
        self.links: dict[tuple[str, str], Link] = {}
        self._events: list[_Arrival] = []
        self._order = 0
        self.trace: list[tuple[int, str, str, TcpSegment]] = []  # (time, src, dst, segment)
        self.keep_trace = False

    def add(self, name: str, endpoint: Endpoint) -> None:
        self.endpoints[name] = endpoint

    def connect(self, a: str, b: str, forward: Link, backward: Link | None = None) -> None:
        self.links[(a, b)] = forward
        self.links[(b, a)] = backward or Link(delay_us=forward.delay_us)

    def send(self, src: str, dst: str, segments: list[TcpSegment]) -> None:
        link = self.links[(src, dst)]
        for seg in segments:
            if self.keep_trace:
                self.trace.append((self.now, src, dst, seg))
            if self.rng.random() < link.loss:
                link.dropped += 1
                continue
            copies = 2 if self.rng.random() < link.duplicate else 1
            for _ in range(copies):
                leave = self._through_bottleneck(link, len(seg.payload) + 40)
                if leave is None:
                    link.dropped += 1
                    continue
                extra = link.reorder_delay_us if self.rng.random() < link.reorder else 0
                self._schedule(leave + link.delay_us + extra, dst, seg)

    def _through_bottleneck(self, link: Link, size: int) -> int | None:
        if link.rate_bytes_per_us is None:
            return self.now
        link.queued = [(t, s) for t, s in link.queued if t > self.now]
        if sum(s for _, s in link.queued) + size > link.queue_bytes:
            return None  # drop-tail
        start = max(self.now, link.busy_until)
        link.busy_until = start + max(1, int(size / link.rate_bytes_per_us))
        link.queued.append((link.busy_until, size))
        link.delivered += size
        return link.busy_until

    def _schedule(self, at: int, dest: str, seg: TcpSegment) -> None:
        self._order += 1
        heapq.heappush(self._events, _Arrival(at, self._order, dest, seg))

    def peer_of(self, name: str) -> str:
        for a, b in self.links:
            if a == name:
                return b
        raise KeyError(name)

    def run(
        self,
        until: int,
        *,
        stop: Callable[[], bool] = lambda: False,
        on_step: Callable[[], None] = lambda: None,
    ) -> None:
        """Advance virtual time, delivering segments and firing timers, until ``until``."""
        while self.now < until and not stop():
            next_event = self._events[0].at if self._events else None
            timers = [
                (t, n) for n, e in self.endpoints.items() if (t := e.next_timer()) is not None
            ]
            next_timer = min(timers)[0] if timers else None
            candidates = [t for t in (next_event, next_timer) if t is not None]
            if not candidates:
                return
            self.now = max(self.now, min(candidates))
            if self.now > until:
                self.now = until
                return
            while self._events and self._events[0].at <= self.now:
                ev = heapq.heappop(self._events)
                out = self.endpoints[ev.dest].receive_segment(ev.segment, now=self.now)
                self.send(ev.dest, self.peer_of(ev.dest), out)
            for name, endpoint in self.endpoints.items():
                t = endpoint.next_timer()
                if t is not None and t <= self.now:
                    self.send(name, self.peer_of(name), endpoint.on_timer(now=self.now))
            on_step()
