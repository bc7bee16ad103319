"""The reference host with chosen behaviours of other stacks, for checking verdicts.

    python tests/stacks/quirky.py --quirk ecn-syn [--quirk ...] --tap {tap} --ip ... (refstack)

Each quirk is something a real stack does that the harness must judge correctly (most are
allowed by the RFCs, some are not):

  ecn-syn             SYNs carry ECE+CWR, SYN-ACKs ECE (an ECN-setup handshake, RFC 3168)
  coalesce            small writes within 30 ms leave as one segment
  stepwise-hole-ack   after a hole is filled, ACKs climb in 200-byte steps to the new RCV.NXT
  ignore-bare-shrink  a bare ACK that only closes the window is ignored (window kept)
  tlp                 40 ms after a flight's last data segment, that segment is sent again
  silent              says "ok" to the control protocol, never puts a frame on the wire
  lose-fin=P          for a share P of connections (chosen by port), no FIN is ever sent
  naive-options       finds a peer's MSS only as the first option of its SYN (a common bug)
  odd-checksum        segments with an odd number of data bytes leave with a wrong checksum
  mss-everywhere      every segment carries an MSS option, not only the SYN
  push-only           data that comes without PSH never reaches the application
  rst-data-ignored    an RST that carries data is dropped
  zero-window-drops-rst  an RST is dropped while the stack advertises a zero window
  rst-anywhere        an RST is taken whatever its sequence number (no window check)
  stray-unanswered    data outside the receive window is dropped without the ACK it should draw
  malformed=KIND      every TCP frame leaves broken as tests/stacks/malform.py says
  slow=MS             every frame leaves MS milliseconds late (a stack on a busy machine)
  flood               broadcasts junk frames as fast as the TAP device takes them
  leak=MB             holds MB more megabytes of memory every second
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import zlib
from typing import Any

from malform import malform, tcp_checksum_if_odd  # run as a script: this folder is on sys.path

from harness.hosts import refstack
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import ACK, CWR, ECE, FIN, PSH, RST, SYN, Mss, TcpSegment

MS = 1000
S = 1000 * MS
COALESCE_US = 30 * MS
FLOOD_FRAME = b"\xff" * 6 + b"\x02\x6e\x63\x00\x00\x02" + b"\x88\xb5" + bytes(1386)
FLOOD_BURST = 500
TLP_US = 40 * MS
STEP = 200


def tcp_of(frame: bytes) -> tuple[Ethernet, IPv4, TcpSegment] | None:
    eth = Ethernet.parse(frame)
    if eth.ethertype != ETH_P_IP:
        return None
    ip = IPv4.parse(eth.payload)
    if ip.proto != PROTO_TCP:
        return None
    return eth, ip, TcpSegment.parse(ip.payload)


def _odd_checksum_broken(frame: bytes) -> bytes:
    broken = bytearray(frame)
    tcp_checksum_if_odd(broken)
    return bytes(broken)


def _mss_not_first(seg: TcpSegment) -> bool:
    """Where a parser that looks only at offset 0 of the options misses the MSS."""
    return bool(seg.options) and not isinstance(seg.options[0], Mss)


def rebuild(eth: Ethernet, ip: IPv4, seg: TcpSegment) -> bytes:
    packet = dataclasses.replace(ip, payload=seg.emit(ip.src, ip.dst))
    return dataclasses.replace(eth, payload=packet.emit()).emit()


class QuirkyStack(refstack.RefStack):
    OFFLOAD_TCP_CHECKSUMS = False  # the quirks parse and rebuild frames: whole checksums

    def __init__(self, quirks: dict[str, str], *args: Any) -> None:
        super().__init__(*args)
        self.quirks = quirks
        self.last_ack: dict[tuple[int, int], int] = {}  # (sport, dport) -> last ACK number sent
        self.peer_window: dict[tuple[int, int], int] = {}  # the peer's last window and ACK
        self.peer_ack: dict[tuple[int, int], int] = {}
        self.own_window: dict[tuple[int, int], int] = {}  # (our port, theirs) -> last window
        self.coalescing: dict[Any, tuple[bytearray, int]] = {}
        self.tail: dict[tuple[int, int], tuple[bytes, int, int]] = {}  # frame, end, due
        self.hoard: list[bytes] = []  # the leak
        self.late: list[tuple[int, bytes]] = []  # frames held back (slow), with when they go
        self.next_leak = 0

    # -- the wire ------------------------------------------------------------------------

    def outbound(self, frames: list[bytes]) -> list[bytes]:
        if "silent" in self.quirks:
            return []
        out = []
        for frame in frames:
            parsed = tcp_of(frame)
            out += [frame] if parsed is None else self._out_segment(frame, *parsed)
        if "malformed" in self.quirks:
            out = [malform(f, self.quirks["malformed"]) if tcp_of(f) else f for f in out]
        if "odd-checksum" in self.quirks:
            out = [_odd_checksum_broken(f) if tcp_of(f) else f for f in out]
        if "slow" in self.quirks:
            due = refstack.now_us() + int(float(self.quirks["slow"]) * MS)
            self.late += [(due, frame) for frame in out]
            return []
        return out

    def _out_segment(self, frame: bytes, eth: Ethernet, ip: IPv4, seg: TcpSegment) -> list[bytes]:
        key = (seg.sport, seg.dport)
        if seg.flags & FIN and self._loses_fin(seg.sport, seg.dport):
            if not seg.payload:
                return []
            seg = dataclasses.replace(seg, flags=seg.flags & ~FIN)
            frame = rebuild(eth, ip, seg)
        if "ecn-syn" in self.quirks and seg.flags & SYN:
            extra = ECE if seg.flags & ACK else ECE | CWR
            return [rebuild(eth, ip, dataclasses.replace(seg, flags=seg.flags | extra))]
        if "mss-everywhere" in self.quirks and not seg.flags & SYN:
            seg = dataclasses.replace(seg, options=(Mss(1460), *seg.options))
            frame = rebuild(eth, ip, seg)
        frames = [frame]
        if "stepwise-hole-ack" in self.quirks and seg.flags == ACK and not seg.payload:
            frames = self._steps(eth, ip, seg, key) + frames
        if seg.flags & ACK:
            self.last_ack[key] = seg.ack
            self.own_window[key] = seg.window
        if "tlp" in self.quirks and seg.payload:
            self.tail[key] = (frame, seg.seq + len(seg.payload), refstack.now_us() + TLP_US)
        return frames

    def _steps(self, eth: Ethernet, ip: IPv4, seg: TcpSegment, key: tuple[int, int]) -> list[bytes]:
        before = self.last_ack.get(key)
        if before is None or not 2 * STEP < seg.ack - before < 1 << 20:
            return []
        points = range(before + STEP, seg.ack, STEP)
        return [rebuild(eth, ip, dataclasses.replace(seg, ack=point)) for point in points]

    def _loses_fin(self, sport: int, dport: int) -> bool:
        share = float(self.quirks.get("lose-fin", 0) or 0)
        return share > 0 and zlib.crc32(f"{sport}-{dport}".encode()) % 10_000 < share * 10_000

    def inbound(self, frame: bytes) -> bytes | None:
        parsed = tcp_of(frame)
        if parsed is None:
            return frame
        eth, ip, seg = parsed
        key = (seg.dport, seg.sport)
        tail = self.tail.get(key)
        if tail is not None and seg.flags & ACK and seg.ack >= tail[1]:
            del self.tail[key]
        if seg.flags & RST and self._drops_rst(seg, key):
            return None
        if seg.flags & RST and "rst-anywhere" in self.quirks and key in self.last_ack:
            return rebuild(eth, ip, dataclasses.replace(seg, seq=self.last_ack[key]))
        if "stray-unanswered" in self.quirks and seg.payload and self._outside_window(seg, key):
            return None
        if "push-only" in self.quirks and seg.payload and not seg.flags & PSH:
            return None  # held for a PSH that never comes; modelled as never taken in
        if "naive-options" in self.quirks and seg.flags & SYN and _mss_not_first(seg):
            return rebuild(eth, ip, dataclasses.replace(seg, options=()))
        if "ignore-bare-shrink" in self.quirks and self._bare_shrink(seg, key):
            return rebuild(eth, ip, dataclasses.replace(seg, window=self.peer_window[key]))
        if seg.flags & ACK and not seg.flags & (SYN | RST):
            self.peer_window[key], self.peer_ack[key] = seg.window, seg.ack
        return frame

    def _drops_rst(self, seg: TcpSegment, key: tuple[int, int]) -> bool:
        if "rst-data-ignored" in self.quirks and seg.payload:
            return True
        return "zero-window-drops-rst" in self.quirks and self.own_window.get(key) == 0

    def _outside_window(self, seg: TcpSegment, key: tuple[int, int]) -> bool:
        if key not in self.last_ack:
            return False
        offset = (seg.seq - self.last_ack[key]) % (1 << 32)
        return offset >= max(self.own_window.get(key, 0), 1) and offset < 1 << 31

    def _bare_shrink(self, seg: TcpSegment, key: tuple[int, int]) -> bool:
        """An ACK that acknowledges nothing new and only closes the window."""
        return (
            seg.flags == ACK
            and not seg.payload
            and seg.window == 0
            and self.peer_window.get(key, 0) > 0
            and seg.ack == self.peer_ack.get(key)
        )

    # -- timers: the tail-loss probe and the coalesced writes ----------------------------

    def tick(self, now: int) -> None:
        if "flood" in self.quirks:
            self._flood()
        if "leak" in self.quirks and now >= self.next_leak:
            self.hoard.append(bytes(int(float(self.quirks["leak"]) * 1e6)) + b"x")
            self.next_leak = now + S
        while self.late and now >= self.late[0][0]:
            self.write_frame(self.late.pop(0)[1])
        for key, (frame, _end, due) in list(self.tail.items()):
            if now >= due:
                del self.tail[key]
                self.write_frame(frame)  # not through outbound(): no new probe for it
        for handle, (data, due) in list(self.coalescing.items()):
            if now >= due:
                del self.coalescing[handle]
                key = self.handles[handle][1]
                if key in self.host.connections:
                    self.host.tcp_send(key, bytes(data), now=now)
                    self._write_frames(self.host.flush())

    def _flood(self) -> None:
        for _ in range(FLOOD_BURST):
            if not self.write_frame(FLOOD_FRAME):
                return  # the TAP queue is full: try again next turn

    def next_deadline(self) -> int | None:
        if "flood" in self.quirks:
            return refstack.now_us()
        if "leak" in self.quirks:
            return self.next_leak
        dues = [due for _f, _e, due in self.tail.values()] + [
            due for _d, due in self.coalescing.values()
        ]
        dues += [due for due, _frame in self.late[:1]]
        return min(dues) if dues else None

    def op_send(self, r: dict[str, Any]) -> Any:
        if "coalesce" not in self.quirks or "data" not in r:
            return super().op_send(r)
        self._conn(r)
        handle = int(r["handle"])
        data, due = self.coalescing.get(handle, (bytearray(), refstack.now_us() + COALESCE_US))
        data += base64.b64decode(r["data"])
        self.coalescing[handle] = (data, due)
        return {"sent": len(base64.b64decode(r["data"]))}


def main() -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--quirk", action="append", default=[])
    ours, rest = parser.parse_known_args()
    quirks = dict(q.partition("=")[::2] for q in ours.quirk)
    refstack.main(rest, lambda *args: QuirkyStack(quirks, *args))


if __name__ == "__main__":
    main()
