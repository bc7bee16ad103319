"""The receiver's out-of-order queue (RFC 9293 3.10.7.4 SHLD-31) and its SACK blocks
(RFC 2018 section 4)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from reference_impl.tcp import seq

MAX_SACK_BLOCKS = 4


@dataclass(eq=False)  # compared by identity: two blocks are never the same block
class Block:
    start: int  # absolute sequence number of data[0]
    data: bytearray


@dataclass
class Reassembly:
    """Data above RCV.NXT, kept as merged blocks sorted by sequence number (no overlaps, no
    adjacent blocks). The common case, the next segment after a block, extends it in place."""

    blocks_: list[Block] = field(default_factory=list)
    fin_at: int | None = None  # sequence number of an out-of-order FIN
    recent: list[int] = field(default_factory=list)  # first seq of arrivals, newest first
    queued_bytes: int = 0

    def __bool__(self) -> bool:
        return bool(self.blocks_) or self.fin_at is not None

    def insert(self, start: int, data: bytes, rcv_nxt: int) -> None:
        """Queue data above RCV.NXT; bytes already queued keep their first copy."""
        early = seq.diff(rcv_nxt, start)
        if early > 0:
            data, start = data[early:], rcv_nxt
        if not data:
            return
        self.recent.insert(0, start)
        del self.recent[16:]
        lo = seq.diff(start, rcv_nxt)
        hi = lo + len(data)
        touching = [
            i
            for i, b in enumerate(self.blocks_)
            if seq.diff(b.start, rcv_nxt) <= hi and seq.diff(b.start, rcv_nxt) + len(b.data) >= lo
        ]
        if not touching:
            index = sum(1 for b in self.blocks_ if seq.diff(b.start, rcv_nxt) < lo)
            self.blocks_.insert(index, Block(start, bytearray(data)))
            self.queued_bytes += len(data)
            return
        first = self.blocks_[touching[0]]
        first_lo = seq.diff(first.start, rcv_nxt)
        if len(touching) == 1 and first_lo <= lo and first_lo + len(first.data) >= lo:
            # The data starts inside or right after one block: append what is new.
            new_part = data[first_lo + len(first.data) - lo :]
            first.data += new_part
            self.queued_bytes += len(new_part)
            return
        self._merge(touching, lo, hi, data, rcv_nxt)

    def _merge(self, touching: list[int], lo: int, hi: int, data: bytes, rcv_nxt: int) -> None:
        """Union of the new data and the blocks it touches; existing bytes win."""
        union_lo = min(lo, *(seq.diff(self.blocks_[i].start, rcv_nxt) for i in touching))
        union_hi = max(
            hi,
            *(
                seq.diff(self.blocks_[i].start, rcv_nxt) + len(self.blocks_[i].data)
                for i in touching
            ),
        )
        merged = bytearray(union_hi - union_lo)
        merged[lo - union_lo : hi - union_lo] = data
        for i in touching:
            block = self.blocks_[i]
            offset = seq.diff(block.start, rcv_nxt) - union_lo
            merged[offset : offset + len(block.data)] = block.data
        covered = bytearray(len(merged))  # count the bytes that are really new
        covered[lo - union_lo : hi - union_lo] = b"\x01" * (hi - lo)
        for i in touching:
            offset = seq.diff(self.blocks_[i].start, rcv_nxt) - union_lo
            covered[offset : offset + len(self.blocks_[i].data)] = bytes(len(self.blocks_[i].data))
        self.queued_bytes += covered.count(1)
        for i in reversed(touching):
            del self.blocks_[i]
        self.blocks_.insert(touching[0], Block(seq.add(rcv_nxt, union_lo), merged))

    def pop_in_order(self, rcv_nxt: int) -> tuple[bytes, int]:
        """Take the blocks that now continue from RCV.NXT; return (bytes, new RCV.NXT)."""
        out = bytearray()
        while self.blocks_:
            block = self.blocks_[0]
            skip = seq.diff(rcv_nxt, block.start)
            if skip < 0:
                break
            del self.blocks_[0]
            self.queued_bytes -= len(block.data)
            if skip < len(block.data):
                out += block.data[skip:]
                rcv_nxt = seq.add(rcv_nxt, len(block.data) - skip)
        return bytes(out), rcv_nxt

    def blocks(self, limit: int = MAX_SACK_BLOCKS) -> list[tuple[int, int]]:
        """SACK blocks: the block holding the newest arrival first, then by recency."""
        if not self.blocks_:
            return []
        base = self.blocks_[0].start
        offsets = [seq.diff(b.start, base) for b in self.blocks_]
        chosen: list[int] = []
        for first in self.recent:
            i = bisect.bisect_right(offsets, seq.diff(first, base)) - 1
            if (
                i >= 0
                and seq.diff(first, base) < offsets[i] + len(self.blocks_[i].data)
                and i not in chosen
            ):
                chosen.append(i)
                if len(chosen) == limit:
                    break
        chosen += [i for i in range(len(self.blocks_)) if i not in chosen][: limit - len(chosen)]
        return [
            (self.blocks_[i].start, seq.add(self.blocks_[i].start, len(self.blocks_[i].data)))
            for i in chosen
        ]


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
