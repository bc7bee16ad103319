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
* Receiving (``accept_offloads``, ``received``): a device that accepts checksum and TCP
  segmentation offload may hand the reader what the kernel's receive offload (GRO) merged:
  one frame of up to 64 KB for a run of one connection's segments, its checksums verified,
  gso_size their payload size. The host cuts it back into exactly those segments
  (reference_impl.wire.tcp.segmented, as the kernel would for a device without the
  offload) and takes them one by one. A frame the kernel has checked (DATA_VALID) or whose
  checksum a local sender left to the device (NEEDS_CSUM) is marked verified: the host
  skips the TCP checksum, which it could not check in the second case. Only topologies that
  turn GRO on (the throughput pairs of harness.tcp.interop) produce merged or checked
  frames; on the conformance beds every frame arrives as the tester sent it, flags 0.
"""

from __future__ import annotations

import fcntl
import struct
from collections.abc import Iterator

from reference_impl.wire.checksum import fold, internet_checksum
from reference_impl.wire.ipv4 import PROTO_TCP

HEADER = struct.Struct("=BBHHHH")
NEEDS_CSUM, DATA_VALID = 1, 2  # virtio-net header flags
GSO_TCPV4 = 1
GSO_ECN = 0x80  # a gso_type bit: the run carried CWR (on its first segment)
TUNSETOFFLOAD = 0x400454D0
TUN_F_CSUM, TUN_F_TSO4 = 0x01, 0x02
TCP_CHECKSUM_OFFSET = 16
AS_IS = HEADER.pack(0, 0, 0, 0, 0, 0)

ETH = 14
IPV4_TCP_NO_OPTIONS = 0x45
TCP_ACK, TCP_PSH = 0x10, 0x08
MAX_IP_PACKET = 0xFFFF
READ_SIZE = HEADER.size + ETH + MAX_IP_PACKET  # the largest merged frame, whole
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
    if not tcp_len or first[47] & TCP_PSH:
        return start + 1
    head = ETH + 20 + tcp_len
    length = len(first)
    size = length - head
    ident, seq = _HALF.unpack_from(first, 18)[0], _SEQ.unpack_from(first, 38)[0]
    # Compared at once for a segment of the first's length: up to the IP length, the IP
    # flags to protocol, addresses and ports, acknowledgment and data offset, and window
    # to the options (the checksum field holds the pseudo-header's sum: equal lengths,
    # equal sums).
    same = (first[:18], first[20:24], first[26:38], first[42:47], first[48:head])
    total, end = length, start + 1
    while end < len(frames):
        frame, k = frames[end], end - start
        if (
            not _same_headers(frame, first, same, length, head)
            or frame[47] | TCP_PSH != TCP_ACK | TCP_PSH
            or _HALF.unpack_from(frame, 18)[0] != (ident + k) & 0xFFFF
            or _SEQ.unpack_from(frame, 38)[0] != (seq + k * size) & 0xFFFFFFFF
            or total + len(frame) - head > MAX_IP_PACKET + ETH
        ):
            break
        total += len(frame) - head
        end += 1
        if frame[47] & TCP_PSH or len(frame) < length:
            break  # PSH or a shorter segment ends a run
    return end


def _same_headers(
    frame: bytes, first: bytes, same: tuple[bytes, ...], length: int, head: int
) -> bool:
    """``frame``'s headers are ``first``'s but for what segmentation changes (the checksum
    field too, for a shorter last segment); its payload no longer than the first's."""
    if len(frame) == length:
        length_dependent_parts_equal = frame[:18] == same[0] and frame[48:head] == same[4]
    else:  # a shorter last segment: its IP length and its checksum field's sum differ
        length_dependent_parts_equal = (
            head < len(frame) < length
            and frame[:16] == first[:16]
            and frame[48:50] == first[48:50]
            and frame[52:head] == first[52:head]
        )
    return (
        length_dependent_parts_equal
        and frame[20:24] == same[1]
        and frame[26:38] == same[2]
        and frame[42:47] == same[3]
    )


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


def accept_offloads(tap: int) -> bool:
    """Tell the kernel this reader takes checksum and TCP segmentation offload (frames
    merged by GRO, checksums left to it); False where the device refuses."""
    try:
        fcntl.ioctl(tap, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4)
    except OSError:
        return False
    return True


def received(data: bytes) -> tuple[bytes, bool, int]:
    """What one read of the device returned (virtio-net header first): the frame, whether
    the kernel vouches for its TCP checksum, and for a run of segments the kernel merged,
    their payload size (else 0); Host.deliver_frame takes all three."""
    flags, gso_type, _hdr_len, gso_size, _start, _offset = HEADER.unpack_from(data)
    frame = data[HEADER.size :]
    if gso_type & ~GSO_ECN == GSO_TCPV4:
        return frame, True, gso_size
    return frame, bool(flags & (NEEDS_CSUM | DATA_VALID)), 0
