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

from harness.topology import inside

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
RCVBUF_BYTES = 8 * 1024 * 1024
# A stack that floods the link must not exhaust the harness: beyond this many frames per
# test the capture keeps counting but stops storing.
MAX_CAPTURED_FRAMES = 200_000
_TIMESPEC = struct.Struct("@qq")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame seen on the tester's interface."""

    ts_ns: int  # kernel receive (or transmit) time, CLOCK_REALTIME nanoseconds
    data: bytes
    outgoing: bool  # sent by the tester


class Link:
    """Send raw Ethernet frames and read the interface's traffic with kernel timestamps."""

    def __init__(self, netns_name: str, ifname: str) -> None:
        self.ifname = ifname
        with inside(netns_name):
            self._tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self._rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._tx.bind((ifname, 0))
        self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        self._rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._rx.bind((ifname, ETH_P_ALL))
        self._rx.setblocking(False)
        self.captured: list[Frame] = []
        self.overflow = 0  # frames seen but not stored (MAX_CAPTURED_FRAMES)
        self._pending: deque[Frame] = deque(maxlen=MAX_CAPTURED_FRAMES)

    def send(self, frame: bytes) -> None:
        self._tx.send(frame)

    def receive(self, timeout: float) -> Frame | None:
        """The next frame the tester did not send, waiting at most ``timeout`` seconds.

        Every frame read, in either direction, is appended to ``captured``.
        """
        deadline = time.monotonic() + timeout
        while not self._pending:
            if self._read_one() is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([self._rx], [], [], remaining)
        return self._pending.popleft()

    def drain(self) -> None:
        """Read every frame queued on the socket (into ``captured``; incoming ones stay
        pending for ``receive``)."""
        while self._read_one() is not None:
            pass

    def _read_one(self) -> Frame | None:
        try:
            data, ancdata, _flags, addr = self._rx.recvmsg(65536, 64)
        except BlockingIOError:
            return None
        frame = Frame(_timestamp(ancdata), data, addr[2] == PACKET_OUTGOING)
        if len(self.captured) < MAX_CAPTURED_FRAMES:
            self.captured.append(frame)
        else:
            self.overflow += 1
        if not frame.outgoing:
            self._pending.append(frame)
        return frame

    def start_capture(self) -> None:
        """Begin a new capture: frames queued before now are dropped, not captured."""
        self.drain()
        self.captured.clear()
        self._pending.clear()
        self.overflow = 0

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
