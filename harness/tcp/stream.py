"""The tester as a plain receiver of the target's byte stream, up to and through its FIN.

Under every close scenario lies one check (RFC 9293 3.4, 3.6, 3.10.4): every byte the
target's application wrote before it closed arrives, in order; a FIN comes at all; and it
sits right after the data, taking exactly one sequence number (the target's next segment
carries the FIN's sequence number plus one). A stack that loses its FIN in a few percent of
closes fails here in a few percent of runs, which is what the stress mode repeats for.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from harness.core.bounds import CLOSE_STALL, DELAYED_ACK, HANDSHAKE_S
from harness.core.errors import ConformanceFailure, ScenarioNotReached
from harness.core.segment import Segment
from harness.tcp.case import TcpCase, TcpConnection
from harness.tcp.peer import TcpPeer
from reference_impl.wire.tcp import ACK, FIN

WRITE_TIMEOUT_S = 10.0  # for the target to take a write while the tester acknowledges


class WriteThenClose(threading.Thread):
    """The target's application writes ``data``, pauses ``pause_s``, and closes its sending
    side, on a thread of its own while the tester reads: a write larger than the target's
    send buffer completes only as the tester acknowledges. The oracle is left out of the
    connection (it cannot follow two threads); these checks do not need its predictions."""

    def __init__(self, tcp: TcpCase, conn: TcpConnection, data: bytes, pause_s: float) -> None:
        super().__init__(name="write-then-close", daemon=True)
        self.tcp, self.conn, self.data, self.pause_s = tcp, conn, data, pause_s
        self.problem: BaseException | None = None
        self.sent = 0
        conn.peer.oracle = None

    def run(self) -> None:
        try:
            reply = self.tcp.control.request(
                "send",
                handle=self.conn.handle,
                data=base64.b64encode(self.data).decode(),
                timeout=WRITE_TIMEOUT_S,
            )
            self.sent = int(reply.get("sent", len(self.data)))
            if self.pause_s:
                time.sleep(self.pause_s)
            self.tcp.app_shutdown(self.conn)
        except BaseException as exc:  # handed to the test's thread by finished()
            self.problem = exc

    def finished(self) -> None:
        """Wait for the application's side; its failure is the scenario's, not a verdict."""
        self.join(WRITE_TIMEOUT_S + 5)
        if self.is_alive():
            raise ScenarioNotReached("a write and a close", "the control channel did not answer")
        if self.problem is not None:
            raise ScenarioNotReached("a write and a close", str(self.problem))
        if self.sent != len(self.data):
            raise ScenarioNotReached(
                "a write and a close",
                f"the target took {self.sent} of {len(self.data)} bytes in {WRITE_TIMEOUT_S:.0f} s",
            )


@dataclass
class Received:
    """What the target sent, reassembled: bytes in order from relative sequence number 1."""

    data: bytes = b""
    fin: Segment | None = None
    segments: list[Segment] = field(default_factory=list)

    @property
    def data_end(self) -> int:
        return 1 + len(self.data)


def data_segments(peer: TcpPeer, total: int, within: float = HANDSHAKE_S) -> list[Segment]:
    """The target's data segments, each acknowledged as it comes, until ``total`` bytes
    have come (the oracle is not consulted: any segmentation is allowed)."""
    got, segments = 0, []
    while got < total:
        seg = peer.expect(
            within=within, what=f"data (have {got} of {total} bytes)", skip_others=True
        ).segment
        if seg.length:
            segments.append(seg)
            got = max(got, seg.seq - 1 + seg.length)
            peer.send(flags=ACK, ack=seg.seq + seg.length)
    return segments


def delivered(tcp: TcpCase, conn: TcpConnection, data: bytes, **sending: Any) -> None:
    """``data`` sent as one segment (``sending``: its options, IP options, ...) is
    acknowledged as the reference acknowledges it, within MUST-40's bound, and the target's
    application reads it whole."""
    conn.peer.send(data, **sending)
    conn.peer.expect_predicted(what="the ACK", bound=DELAYED_ACK, skip_others=True)
    read = tcp.app_read(conn, len(data))
    if read != data:
        raise ConformanceFailure(f"the application read {read[:20]!r}..., not the bytes sent")


def read_to_fin(
    peer: TcpPeer,
    *,
    idle: float = CLOSE_STALL.seconds,
    window: int | None = None,
    hold_acks_s: float = 0.0,
    acknowledge_fin: bool = True,
) -> Received:
    """Take the target's segments until its FIN follows all the data, or until it is
    silent for ``idle`` seconds. Each segment is acknowledged cumulatively with ``window``
    (the peer's own by default), except during the first ``hold_acks_s`` seconds, when the
    tester acknowledges nothing (data left unacknowledged when the application closes).
    Data the test has already taken in (``peer.segments``) counts from the start. Without
    ``acknowledge_fin`` the FIN is left unacknowledged (its ACK "lost")."""
    chunks = {seg.seq: seg.payload for seg in peer.segments if not seg.from_tester and seg.payload}
    got = Received(data=_in_order(chunks))
    started = peer.last_sent_ns()
    while True:
        batch = peer.collect(idle, until=lambda _seg: True)
        if not batch:
            return got
        seg = batch[0]
        got.segments.append(seg)
        if seg.payload and len(seg.payload) > len(chunks.get(seg.seq, b"")):
            chunks[seg.seq] = seg.payload
        got.data = _in_order(chunks)
        if seg.has(FIN) and seg.seq + len(seg.payload) == got.data_end:
            got.fin = seg
        holding = (seg.ts_ns - started) / 1e9 < hold_acks_s
        if not holding and (got.fin is None or acknowledge_fin):
            peer.send(flags=ACK, ack=got.data_end + (got.fin is not None), window=window)
        if got.fin is not None:
            return got


def _in_order(chunks: dict[int, bytes]) -> bytes:
    """The bytes from relative sequence number 1 up to the first hole."""
    out = bytearray()
    for seq in sorted(chunks):
        end = 1 + len(out)
        if seq > end:
            break
        out += chunks[seq][end - seq :]
    return bytes(out)


def check_stream(got: Received, written: bytes, *, idle: float = CLOSE_STALL.seconds) -> None:
    """Every byte written before the close arrived, in order, and a FIN right after it."""
    if got.data != written:
        raise ConformanceFailure(_data_problem(got.data, written))
    if got.fin is None:
        raise ConformanceFailure(
            f"every byte written before the close arrived ({len(written)}), but no FIN "
            f"followed: the target was silent for {idle:.1f} s after its last segment"
        )


def _data_problem(data: bytes, written: bytes) -> str:
    digest = hashlib.sha256
    if len(data) < len(written) and written.startswith(data):
        return f"{len(data)} of the {len(written)} bytes written before the close arrived"
    first = next((i for i, (a, b) in enumerate(zip(data, written, strict=False)) if a != b), None)
    where = f"they differ from byte {first}" if first is not None else "more bytes than written"
    return (
        f"the stream is not what was written ({where}): SHA-256 {digest(data).hexdigest()[:16]} "
        f"of {len(data)} bytes, written {digest(written).hexdigest()[:16]} of {len(written)}"
    )


def finish_close(peer: TcpPeer, got: Received, *, within: float) -> None:
    """Our FIN after the target's: its ACK (within ``within`` seconds) must carry the
    sequence number after the target's FIN (the FIN took exactly one) and acknowledge ours."""
    assert got.fin is not None
    after_fin = got.fin.seq + len(got.fin.payload) + 1
    peer.send(flags=FIN | ACK, ack=after_fin)
    peer.expect(
        flags=ACK,
        seq=after_fin,
        ack=peer.snd_nxt,
        within=within,
        skip_others=True,
        what="the ACK of our FIN, one sequence number after the target's FIN",
    )
