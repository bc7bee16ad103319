"""Endpoints for the simulated link: a client that writes a payload and a server that reads."""

from __future__ import annotations

from reference_impl.tcp.connection import TcpConnection
from reference_impl.tcp.listener import TcpListener, isn_generator
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.wire.tcp import TcpSegment


class Writer:
    """Actively opens, writes ``payload`` as buffer space allows, then closes."""

    def __init__(
        self, payload: bytes, *, profile: Profile = RFC, iss: int = 7, port: int = 40000
    ) -> None:
        self.payload, self.offset = payload, 0
        self.conn = TcpConnection.connect(port, 80, iss=iss, now=0, profile=profile)
        self.closed = False

    def first_segments(self) -> list[TcpSegment]:
        return self.conn.outgoing()

    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]:
        return self.conn.receive_segment(segment, now=now) + self._pump(now)

    def _pump(self, now: int) -> list[TcpSegment]:
        out: list[TcpSegment] = []
        if self.conn.state.value not in ("ESTABLISHED", "CLOSE-WAIT"):
            return out
        while self.offset < len(self.payload) and self.conn.send_space:
            chunk = self.payload[self.offset : self.offset + min(self.conn.send_space, 65536)]
            self.offset += len(chunk)
            out += self.conn.send(chunk, now=now)
        if self.offset == len(self.payload) and not self.closed:
            self.closed = True
            out += self.conn.shutdown(now=now)
        return out

    def next_timer(self) -> int | None:
        return self.conn.next_timer()

    def on_timer(self, *, now: int) -> list[TcpSegment]:
        return self.conn.on_timer(now=now) + self._pump(now)


class Reader:
    """Listens, accepts one connection, reads everything, closes on EOF."""

    def __init__(self, *, profile: Profile = RFC, read_chunk: int = 1 << 20) -> None:
        self.listener = TcpListener(80, isn_generator(b"test secret"), profile)
        self.conn: TcpConnection | None = None
        self.received = bytearray()
        self.read_chunk = read_chunk
        self.closed = False

    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]:
        if self.conn is None:
            self.conn, out = self.listener.receive_segment(segment, now=now)
            return out
        return self.conn.receive_segment(segment, now=now) + self._drain(now)

    def _drain(self, now: int) -> list[TcpSegment]:
        assert self.conn is not None
        self.received += self.conn.read(self.read_chunk, now=now)
        out = self.conn.outgoing()
        if self.conn.at_eof and not self.closed:
            self.closed = True
            out += self.conn.shutdown(now=now)
        return out

    def next_timer(self) -> int | None:
        return self.conn.next_timer() if self.conn else None

    def on_timer(self, *, now: int) -> list[TcpSegment]:
        if self.conn is None:
            return []
        return self.conn.on_timer(now=now) + self._drain(now)
