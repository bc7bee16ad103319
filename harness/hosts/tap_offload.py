"""What the kernel does for a TAP device opened with a virtio-net header, and how the
reference stack's frames use it without changing a byte on the wire.

Every frame written to the device starts with the header (linux virtio_net.h; native byte
order on a legacy device): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.

* Checksums: NEEDS_CSUM asks the kernel to complete the checksum that starts at csum_start
  and is stored at csum_start + csum_offset; the frame carries the pseudo-header's sum there
  (``TcpSegment.emit_for_checksum_offload``). Python spends a fifth of the time it takes to
  send a full segment on that sum.
* Segmentation (GSO): consecutive full-sized segments of one connection that differ only as
  the kernel's TCP segmentation makes them differ (sequence numbers, IP identification +1,
  PSH on the last) go down as one frame with gso_type TCPV4 and gso_size = their payload
  size. The veth behind the TAP's bridge has segmentation offload off, so the kernel cuts
  the frame back into exactly those segments there (tcp_gso_segment, inet_gso_segment) and
  the wire carries what the stack made, for one system call and one trip through the
  bridge instead of one per segment. tests/test_tap_offload.py compares the kernel's
  segments with the originals byte for byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from reference_impl.wire.checksum import fold, internet_checksum
from reference_impl.wire.ipv4 import PROTO_TCP

HEADER = struct.Struct("=BBHHHH")
NEEDS_CSUM = 1
GSO_TCPV4 = 1
TCP_CHECKSUM_OFFSET = 16
AS_IS = HEADER.pack(0, 0, 0, 0, 0, 0)

ETH = 14
IPV4_TCP_NO_OPTIONS = 0x45
TCP_ACK, TCP_PSH = 0x10, 0x08
MAX_IP_PACKET = 0xFFFF
_SEQ = struct.Struct("!I")
_HALF = struct.Struct("!H")


def complete_tcp_checksum(frame: bytes) -> bytes:
    """The header that has the kernel complete an IPv4 TCP segment's checksum; the plain
    header for any other frame."""
    if frame[12:14] != b"\x08\x00" or frame[23] != PROTO_TCP:
        return AS_IS
    start = ETH + (frame[14] & 0x0F) * 4
    return HEADER.pack(NEEDS_CSUM, 0, 0, 0, start, TCP_CHECKSUM_OFFSET)


def with_headers(frames: list[bytes], *, merge: bool = True) -> Iterator[tuple[bytes, int]]:
    """What to write for ``frames``, virtio-net header first, with (``merge``) runs of
    mergeable segments as one frame: (bytes to write, how many frames they carry)."""
    i, count = 0, len(frames)
    while i < count:
        end = _run_end(frames, i) if merge else i + 1
        if end - i > 1:
            yield _merged(frames[i:end]), end - i
        else:
            yield complete_tcp_checksum(frames[i]) + frames[i], 1
        i = end


def _data_segment(frame: bytes) -> int:
    """The TCP header's length if ``frame`` is an IPv4 (no options) TCP segment with ACK
    and data and no flag but PSH; 0 otherwise."""
    if (
        len(frame) <= ETH + 40
        or frame[12:14] != b"\x08\x00"
        or frame[14] != IPV4_TCP_NO_OPTIONS
        or frame[23] != PROTO_TCP
    ):
        return 0
    tcp_len = (frame[46] >> 4) * 4
    if frame[46] & 0x0F or frame[47] & ~TCP_PSH != TCP_ACK or len(frame) <= ETH + 20 + tcp_len:
        return 0
    return tcp_len


def _run_end(frames: list[bytes], start: int) -> int:
    """The end of the run of segments from ``start`` that the kernel's segmentation of one
    merged frame reproduces exactly: same Ethernet header, IP header but for length,
    identification (+1 each) and checksum, TCP header but for sequence number (contiguous)
    and checksum; every payload as long as the first, the last no longer; PSH only on the
    last (the kernel clears it on all others)."""
    first = frames[start]
    tcp_len = _data_segment(first)
    if not tcp_len:
        return start + 1
    head = ETH + 20 + tcp_len
    size = len(first) - head
    total, end = len(first), start + 1
    previous = first
    while end < len(frames):
        frame = frames[end]
        if (
            previous[47] & TCP_PSH
            or len(frame) > len(first)
            or len(frame) <= head
            or total + len(frame) - head > MAX_IP_PACKET + ETH
            or frame[:16] != first[:16]
            or frame[20:24] != first[20:24]
            or frame[26:38] != first[26:38]
            or frame[42:47] != first[42:47]
            or frame[47] | TCP_PSH != TCP_ACK | TCP_PSH
            or frame[48:50] != first[48:50]
            or frame[52:head] != first[52:head]
            or (_HALF.unpack_from(previous, 18)[0] + 1) & 0xFFFF != _HALF.unpack_from(frame, 18)[0]
            or (_SEQ.unpack_from(previous, 38)[0] + size) & 0xFFFFFFFF
            != _SEQ.unpack_from(frame, 38)[0]
        ):
            break
        total += len(frame) - head
        previous = frame
        end += 1
        if len(frame) < len(first):
            break  # a shorter segment ends a run
    return end


def _merged(run: list[bytes]) -> bytes:
    """One frame for the run: the first's headers with the last's flags, the IP length and
    checksum and the TCP pseudo-header sum of the whole, every payload in order."""
    first, last = run[0], run[-1]
    tcp_len = (first[46] >> 4) * 4
    head = ETH + 20 + tcp_len
    size = len(first) - head  # every payload's but maybe the last's: the kernel's gso_size
    payload_total = sum(len(f) for f in run) - head * len(run)
    ip_header = bytearray(first[ETH : ETH + 20])
    ip_header[2:4] = _HALF.pack(20 + tcp_len + payload_total)
    ip_header[10:12] = b"\x00\x00"  # the checksum is summed over a zero field
    ip_header[10:12] = _HALF.pack(internet_checksum(bytes(ip_header)))
    tcp_header = bytearray(first[ETH + 20 : head])
    tcp_header[13] = last[47]
    # The first's field holds the pseudo-header's sum with its own length; the kernel
    # expects the sum with the merged length (it replaces it per segment).
    first_partial = _HALF.unpack_from(first, ETH + 20 + TCP_CHECKSUM_OFFSET)[0]
    tcp_header[16:18] = _HALF.pack(fold(first_partial + payload_total - size))
    vnet = HEADER.pack(NEEDS_CSUM, GSO_TCPV4, head, size, ETH + 20, TCP_CHECKSUM_OFFSET)
    return b"".join((vnet, first[:ETH], ip_header, tcp_header, *(f[head:] for f in run)))
