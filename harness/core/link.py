"""AF_PACKET I/O on the tester's interface, with kernel timestamps and a pcap of everything.

Two packet sockets are opened inside the tester namespace: one sends, the other receives
every frame on the interface in both directions (the kernel loops the sender's outgoing
frames back to every other packet socket, with their own timestamps). So the capture holds
exactly what crossed the wire, in order, timed by the kernel, not by Python.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.core.clock import Deadline
from harness.core.errors import TargetError
from harness.core.topology import inside

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
RCVBUF_BYTES = 8 * 1024 * 1024
# A stack that floods the link must not exhaust the harness: beyond these per test the
# capture keeps counting but stops storing (a 1 MiB bulk transfer needs about 1.2 MB).
MAX_CAPTURED_FRAMES = 30_000
MAX_CAPTURED_BYTES = 4 * 1024 * 1024
# More frames than this from the target within one second is a flood: no test here makes a
# target send so many (a 1 MiB transfer is about 750 data segments).
DEFAULT_FLOOD_LIMIT = 20_000
FLOOD_WINDOW_S = 0.1
_TIMESPEC = struct.Struct("@qq")


class FloodError(TargetError):
    """The target sends frames faster than any test asks it to."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame seen on the tester's interface."""

    ts_ns: int  # kernel receive (or transmit) time, CLOCK_REALTIME nanoseconds
    data: bytes
    outgoing: bool  # sent by the tester


class Link:
    """Send raw Ethernet frames and read the interface's traffic with kernel timestamps."""

    def __init__(
        self, netns_name: str, ifname: str, flood_limit: int = DEFAULT_FLOOD_LIMIT
    ) -> None:
        self.ifname = ifname
        self.flood_limit = flood_limit
        self.flood_rate = 0  # frames/s once a flood was seen, else 0
        with inside(netns_name):
            self._tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self._rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._tx.bind((ifname, 0))
        self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        self._rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._rx.bind((ifname, ETH_P_ALL))
        self._rx.setblocking(False)
        self.captured: list[Frame] = []
        self.captured_bytes = 0
        self.overflow = 0  # frames seen but not stored (MAX_CAPTURED_FRAMES / _BYTES)
        self._pending: deque[Frame] = deque(maxlen=MAX_CAPTURED_FRAMES)
        self._window_start = time.monotonic()
        self._window_frames = 0

    def send(self, frame: bytes) -> None:
        self._tx.send(frame)

    def receive(self, timeout: float) -> Frame | None:
        """The next frame the tester did not send, waiting at most ``timeout`` seconds.

        Every frame read, in either direction, is appended to ``captured``. A flood from
        the target raises FloodError.
        """
        deadline = Deadline(timeout)
        self.check_flood()
        while not self._pending:
            self.check_flood()
            if self._read_one() is None:
                if deadline.passed:
                    return None
                select.select([self._rx], [], [], deadline.remaining())
        return self._pending.popleft()

    def drain(self) -> None:
        """Read every frame queued on the socket (into ``captured``; incoming ones stay
        pending for ``receive``). During a flood it stops after one second's worth, and
        never raises: evidence is gathered with it."""
        limit = self.flood_limit
        while self._read_one() is not None:
            limit -= 1
            if limit <= 0 and self.flood_rate:
                return

    def check_flood(self) -> None:
        if self.flood_rate:
            raise FloodError(
                f"flood: the target sent about {self.flood_rate} frames/s (the limit is "
                f"{self.flood_limit}/s); {self.overflow} frames were counted but not kept"
            )

    def _read_one(self) -> Frame | None:
        try:
            data, ancdata, _flags, addr = self._rx.recvmsg(65536, 64)
        except BlockingIOError:
            return None
        frame = Frame(_timestamp(ancdata), data, addr[2] == PACKET_OUTGOING)
        if len(self.captured) < MAX_CAPTURED_FRAMES and self.captured_bytes < MAX_CAPTURED_BYTES:
            self.captured.append(frame)
            self.captured_bytes += len(data)
        else:
            self.overflow += 1
        if not frame.outgoing:
            self._pending.append(frame)
            self._count_incoming()
        return frame

    def _count_incoming(self) -> None:
        """Frames from the target per FLOOD_WINDOW_S window; over the limit's share of it is
        a flood (a burst of a few hundred frames, as a bulk transfer makes, never is)."""
        now = time.monotonic()
        if now - self._window_start >= FLOOD_WINDOW_S:
            self._window_start, self._window_frames = now, 0
        self._window_frames += 1
        if self._window_frames > self.flood_limit * FLOOD_WINDOW_S and not self.flood_rate:
            elapsed = max(now - self._window_start, 1e-3)
            self.flood_rate = int(self._window_frames / elapsed)

    def start_capture(self) -> None:
        """Begin a new capture: frames queued before now are dropped, not captured."""
        self.drain()
        self.captured.clear()
        self.captured_bytes = 0
        self._pending.clear()
        self.overflow = 0
        self.flood_rate = 0
        self._window_start, self._window_frames = time.monotonic(), 0

    def close(self) -> None:
        self._tx.close()
        self._rx.close()


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> int:
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            return sec * 1_000_000_000 + nsec
    return time.time_ns()  # the kernel always sends one; this is only a fallback


PCAP_MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1


def write_pcap(path: Path, frames: Iterable[Frame]) -> None:
    """A classic pcap with nanosecond timestamps (readable by Wireshark, tshark, Scapy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(struct.pack("<IHHiIII", PCAP_MAGIC_NS, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        for frame in frames:
            sec, nsec = divmod(frame.ts_ns, 1_000_000_000)
            f.write(struct.pack("<IIII", sec, nsec, len(frame.data), len(frame.data)))
            f.write(frame.data)


def read_pcap(path: Path) -> list[Frame]:
    """Read back a pcap written by ``write_pcap`` (direction is not stored in pcap)."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    scale = 1 if magic == PCAP_MAGIC_NS else 1000
    frames, offset = [], 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from("<IIII", data, offset)
        offset += 16
        frames.append(
            Frame(sec * 1_000_000_000 + frac * scale, data[offset : offset + caplen], False)
        )
        offset += caplen
    return frames
