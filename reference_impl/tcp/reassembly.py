"""The receiver's out-of-order queue (RFC 9293 3.10.7.4 SHLD-31) and its SACK blocks
(RFC 2018 section 4)."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.tcp import seq

MAX_SACK_BLOCKS = 4


@dataclass
class Reassembly:
    """Segments above RCV.NXT, keyed by their first sequence number (no overlaps kept)."""

    pieces: dict[int, bytes] = field(default_factory=dict)
    fin_at: int | None = None  # sequence number of an out-of-order FIN
    recent: list[int] = field(default_factory=list)  # first seq of arrivals, newest first

    @property
    def queued_bytes(self) -> int:
        return sum(len(p) for p in self.pieces.values())

    def __bool__(self) -> bool:
        return bool(self.pieces) or self.fin_at is not None

    def insert(self, start: int, data: bytes, rcv_nxt: int) -> None:
        """Queue data above RCV.NXT, dropping what is already queued (first copy wins)."""
        for offset, chunk in self._new_parts(start, data):
            self.pieces[seq.add(start, offset)] = chunk
        self.recent.insert(0, start)
        del self.recent[16:]

    def _new_parts(self, start: int, data: bytes) -> list[tuple[int, bytes]]:
        """The parts of [start, start+len) not covered by queued pieces, with offsets."""
        covered = sorted(
            (seq.diff(s, start), seq.diff(s, start) + len(p)) for s, p in self.pieces.items()
        )
        parts, cursor = [], 0
        for lo, hi in covered:
            if hi <= cursor or lo >= len(data):
                continue
            if lo > cursor:
                parts.append((cursor, data[cursor:lo]))
            cursor = max(cursor, hi)
        if cursor < len(data):
            parts.append((cursor, data[cursor:]))
        return parts

    def pop_in_order(self, rcv_nxt: int) -> tuple[bytes, int]:
        """Take the pieces that now continue from RCV.NXT; return (bytes, new RCV.NXT)."""
        out = bytearray()
        while True:
            piece = self._piece_covering(rcv_nxt)
            if piece is None:
                break
            start, data = piece
            del self.pieces[start]
            skip = seq.diff(rcv_nxt, start)
            out += data[skip:]
            rcv_nxt = seq.add(rcv_nxt, len(data) - skip)
        self._drop_below(rcv_nxt)
        return bytes(out), rcv_nxt

    def _piece_covering(self, point: int) -> tuple[int, bytes] | None:
        for start, data in self.pieces.items():
            if seq.le(start, point) and seq.lt(point, seq.add(start, len(data))):
                return start, data
        return None

    def _drop_below(self, rcv_nxt: int) -> None:
        for start in [s for s, p in self.pieces.items() if seq.le(seq.add(s, len(p)), rcv_nxt)]:
            del self.pieces[start]

    def blocks(self, limit: int = MAX_SACK_BLOCKS) -> list[tuple[int, int]]:
        """SACK blocks: merged queued ranges, the one holding the newest arrival first."""
        ranges: list[list[int]] = []
        for start in sorted(self.pieces, key=lambda s: seq.diff(s, next(iter(self.pieces)))):
            end = seq.add(start, len(self.pieces[start]))
            if ranges and ranges[-1][1] == start:
                ranges[-1][1] = end
            else:
                ranges.append([start, end])

        def recency(block: list[int]) -> int:
            for rank, first in enumerate(self.recent):
                if seq.le(block[0], first) and seq.lt(first, block[1]):
                    return rank
            return len(self.recent)

        ranges.sort(key=recency)
        return [(lo, hi) for lo, hi in ranges[:limit]]


@dataclass
class Scoreboard:
    """The sender's record of SACKed ranges above SND.UNA (RFC 6675 section 3)."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    retransmitted: set[int] = field(default_factory=set)  # starts of holes already resent

    def update(self, blocks: tuple[tuple[int, int], ...], snd_una: int, snd_max: int) -> None:
        for lo, hi in blocks:
            if seq.le(lo, snd_una) or seq.gt(hi, snd_max) or not seq.lt(lo, hi):
                continue  # below the cumulative ACK, beyond what was sent, or empty: ignore
            self.ranges.append((lo, hi))
        self._merge(snd_una)

    def _merge(self, snd_una: int) -> None:
        kept = sorted(
            (r for r in self.ranges if seq.gt(r[1], snd_una)), key=lambda r: seq.diff(r[0], snd_una)
        )
        merged: list[tuple[int, int]] = []
        for lo, hi in kept:
            if merged and seq.le(lo, merged[-1][1]):
                if seq.gt(hi, merged[-1][1]):
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        self.ranges = merged
        self.retransmitted = {s for s in self.retransmitted if seq.ge(s, snd_una)}

    def on_cumulative_ack(self, snd_una: int) -> None:
        self._merge(snd_una)

    def sacked_bytes(self) -> int:
        return sum(seq.diff(hi, lo) for lo, hi in self.ranges)

    def next_hole(self, snd_una: int) -> tuple[int, int] | None:
        """The first unSACKed range below the highest SACKed byte, not yet retransmitted."""
        cursor = snd_una
        for lo, hi in self.ranges:
            if seq.lt(cursor, lo) and cursor not in self.retransmitted:
                return cursor, lo
            cursor = hi
        return None

    def clear(self) -> None:
        self.ranges.clear()
        self.retransmitted.clear()
