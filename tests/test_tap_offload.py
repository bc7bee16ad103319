"""Runs of segments merged for the TAP device (harness.hosts.tap_offload): only runs the
kernel's segmentation reproduces are merged, and on this kernel the segments that reach the
wire are, byte for byte, the ones the reference made (checksums completed)."""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import threading
import time

import pytest

from harness.core import topology
from harness.core.link import Link
from harness.core.topology import create_tester_target, inside, wait_for_tap
from harness.hosts import refstack, tap_offload
from harness.hosts.refstack import open_tap
from harness.tcp import interop
from reference_impl.host import Host, HostConfig
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, ip_to_bytes, packet_bytes
from reference_impl.wire.tcp import ACK, FIN, PSH, SYN, Nop, Sack, TcpSegment

SRC, DST = "198.18.0.2", "198.18.0.1"
SRC_MAC, DST_MAC = "02:00:00:00:00:02", "02:00:00:00:00:01"


def frame(seg: TcpSegment, ident: int, *, offload: bool = True, dst_mac: str = DST_MAC) -> bytes:
    """What the reference host puts on its TAP for ``seg`` (offload: the pseudo-header sum
    in the checksum field) or on the wire (whole checksum)."""
    tcp = seg.emit_for_checksum_offload(SRC, DST) if offload else seg.emit(SRC, DST)
    packet = packet_bytes(ip_to_bytes(SRC), ip_to_bytes(DST), PROTO_TCP, tcp, ident=ident)
    return Ethernet(dst_mac, SRC_MAC, ETH_P_IP, packet).emit()


def run(
    sizes: list[int],
    *,
    seq: int = 1000,
    ident: int = 7,
    last_flags: int = ACK | PSH,
    options: tuple = (),
) -> list[TcpSegment]:
    segs, at = [], seq
    for i, size in enumerate(sizes):
        flags = last_flags if i == len(sizes) - 1 else ACK
        payload = bytes((at + k) & 0xFF for k in range(size))
        segs.append(TcpSegment(40000, 5001, at, 99, flags, 512, payload, options))
        at = (at + size) & 0xFFFFFFFF
    return segs


def counts(frames: list[bytes]) -> list[int]:
    return [count for _data, count in tap_offload.with_headers(frames)]


def test_a_run_of_full_segments_is_one_frame():
    frames = [frame(s, 7 + i) for i, s in enumerate(run([1448] * 5 + [600]))]
    assert counts(frames) == [6]


@pytest.mark.parametrize(
    "change, expected",
    [
        ("window", [2, 2]),  # another window from the third segment on
        ("gap", [2, 2]),  # a sequence gap before the third
        ("ident", [2, 2]),  # an IP identification that does not follow
        ("psh", [3, 1]),  # PSH on the third: the kernel would clear it
        ("longer", [2, 2]),  # a longer segment cannot follow a shorter gso_size
    ],
)
def test_a_run_breaks_where_segmentation_could_not_reproduce_it(change, expected):
    segs = run([1000] * 4)
    idents = [7, 8, 9, 10]
    third = segs[2]
    if change == "window":
        segs[2:] = [
            s.__class__(s.sport, s.dport, s.seq, s.ack, s.flags, 600, s.payload) for s in segs[2:]
        ]
    elif change == "gap":
        segs[2:] = run([1000, 1000], seq=third.seq + 1)
    elif change == "ident":
        idents = [7, 8, 20, 21]
    elif change == "psh":
        segs[2] = TcpSegment(
            third.sport, third.dport, third.seq, third.ack, ACK | PSH, 512, third.payload
        )
    elif change == "longer":
        segs = run([1000, 1000]) + run([1200, 1000], seq=3000)
    frames = [frame(s, i) for s, i in zip(segs, idents, strict=True)]
    assert counts(frames) == expected


@pytest.mark.parametrize("flags", [SYN | ACK, ACK | FIN, ACK])
def test_control_segments_and_bare_acks_go_alone(flags):
    segs = [TcpSegment(40000, 5001, 1000 + i, 99, flags, 512, b"") for i in range(3)]
    assert counts([frame(s, 7 + i) for i, s in enumerate(segs)]) == [1, 1, 1]


@pytest.mark.needs_root
@pytest.mark.parametrize(
    "segments, first_ident",
    [
        (run([1448] * 8 + [313]), 7),
        (run([1448] * 4, last_flags=ACK), 7),  # no PSH anywhere
        (run([1000] * 3 + [999], seq=0xFFFFF000), 0xFFFE),  # sequence and identification wrap
        (run([1436] * 3, options=(Nop(), Nop(), Sack(((5000, 6000),)))), 300),
        (run([1448] * 44), 1),  # a 64 KB frame
    ],
)
def test_the_kernel_segments_a_merged_frame_into_the_original_segments(segments, first_ident):
    topo = create_tester_target(tap=True)
    try:
        link = Link(topo.tester.netns, topo.tester.ifname)
        with inside(topo.target.netns):
            tap = open_tap("nc-tap")
        wait_for_tap(topo)
        try:
            made = [
                frame(s, (first_ident + i) & 0xFFFF, dst_mac=topo.tester.mac)
                for i, s in enumerate(segments)
            ]
            written = list(tap_offload.with_headers(made))
            assert [count for _data, count in written] == [len(made)]
            os.write(tap, written[0][0])
            got = tcp_frames(link, len(made))
        finally:
            os.close(tap)
        expected = [
            frame(s, (first_ident + i) & 0xFFFF, offload=False, dst_mac=topo.tester.mac)
            for i, s in enumerate(segments)
        ]
        assert got == expected
        link.close()
    finally:
        topo.teardown()


def tcp_frames(link: Link, wanted: int) -> list[bytes]:
    """The TCP frames that arrive until ``wanted`` did and 0.3 s more passed (the bridge's
    IGMP reports are not ours)."""
    got: list[bytes] = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        seen = link.receive(0.3 if len(got) >= wanted else deadline - time.monotonic())
        if seen is None:
            if len(got) >= wanted:
                break
            continue
        if seen.data[12:14] == b"\x08\x00" and seen.data[23] == PROTO_TCP:
            got.append(seen.data)
    return got


def test_a_kernel_that_refuses_merged_frames_gets_them_one_by_one(monkeypatch):
    """EINVAL on a merged frame: that run and the rest of the batch go again frame by frame,
    and merging stays off."""
    written: list[bytes] = []

    def refusing_write(_fd: int, data: bytes) -> int:
        if data[1] == tap_offload.GSO_TCPV4:
            raise OSError(errno.EINVAL, "Invalid argument")
        written.append(data)
        return len(data)

    monkeypatch.setattr(refstack.os, "write", refusing_write)
    host = Host(HostConfig(mac=SRC_MAC, ip=SRC, prefixlen=24))
    stack = refstack.RefStack(host, -1, -1, lambda _line: None)
    bare_ack = frame(TcpSegment(40000, 5001, 900, 99, ACK, 512, b""), 6)
    frames = [bare_ack] + [frame(s, 7 + i) for i, s in enumerate(run([1448] * 4))]
    stack._write_frames(frames)
    assert not stack.merge_segments
    assert [w[tap_offload.HEADER.size :] for w in written] == frames


class RecordingStack(refstack.RefStack):
    """The reference stack, noting every TCP segment its host takes and how each read of
    the device came (merged, checksum vouched for)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.taken: list[TcpSegment] = []
        self.merged_reads = 0
        take = self.host._on_segment

        def recording(src: str, seg: TcpSegment, now: int) -> None:
            self.taken.append(seg)
            take(src, seg, now)

        self.host._on_segment = recording  # type: ignore[method-assign]
        deliver = self.host.deliver_frame

        def counting(frame: bytes, **kwargs: object) -> None:
            self.merged_reads += bool(kwargs.get("tcp_segment_size"))
            deliver(frame, **kwargs)  # type: ignore[arg-type]

        self.host.deliver_frame = counting  # type: ignore[method-assign]


def sent_segments(captured: list, src_ip: str) -> list[TcpSegment]:
    """The TCP segments from ``src_ip`` in captured frames, in order."""
    segments = []
    for seen in captured:
        data = seen.data
        if (
            data[12:14] == b"\x08\x00"
            and data[23] == PROTO_TCP
            and data[26:30] == ip_to_bytes(src_ip)
        ):
            ihl = (data[14] & 0x0F) * 4
            segments.append(TcpSegment.parse(data[14 + ihl : 14 + ((data[16] << 8) | data[17])]))
    return segments


def without_checksum(segments: list[TcpSegment]) -> list[TcpSegment]:
    return [dataclasses.replace(s, checksum=0) for s in segments]


@pytest.mark.needs_root
def test_merged_runs_from_the_kernel_are_taken_as_the_segments_it_sent():
    """GRO on the bridge's veth, receive offload on the TAP: the kernel in the tester's
    namespace sends 1 MB to the reference; the host takes, in order, exactly the segments
    seen leaving the kernel (checksum fields aside: the merged frame's are the kernel's
    business), and some of them came merged."""
    topo = create_tester_target(tap=True)
    try:
        topology.merge_received_segments(topo)
        interop.give_kernel_an_address(topo)
        link = Link(topo.tester.netns, topo.tester.ifname)
        with inside(topo.target.netns):
            tap = open_tap("nc-tap")
        wait_for_tap(topo)
        ctl_read, ctl_write = os.pipe()
        host = Host(
            HostConfig(
                mac=topo.target.mac,
                ip=topo.target.ip,
                prefixlen=topo.prefixlen,
                neighbors={topo.tester.ip: topo.tester.mac},
            )
        )
        stack = RecordingStack(host, tap, ctl_read, lambda _line: None)
        assert stack.receive_offload
        stack.op_listen({"port": 5001, "options": {"rcvbuf": 4 << 20}})
        serving = threading.Thread(target=stack.serve, daemon=True)
        serving.start()
        try:
            with inside(topo.tester.netns):
                sender = socket.create_connection((topo.target.ip, 5001), timeout=10)
            sender.sendall(bytes(range(256)) * 4096)
            sender.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(s.flags & FIN for s in stack.taken):
                time.sleep(0.05)
            link.drain()
        finally:
            os.close(ctl_write)
            serving.join(timeout=5)
            os.close(tap)
            os.close(ctl_read)
        sent = sent_segments(link.captured, topo.tester.ip)
        assert stack.merged_reads > 0, "no merged frame came: the test checked nothing merged"
        assert without_checksum(stack.taken) == without_checksum(sent)
        link.close()
    finally:
        topo.teardown()
