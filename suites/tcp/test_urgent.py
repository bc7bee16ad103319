"""The urgent mechanism from the sending side (RFC 9293 3.8.5): urgent data leaves with URG
set and an urgent pointer at the octet after it, however long it is (RFC 6093 explains why
that octet and not the last urgent one). New applications should not use it (SHLD-13), but
a TCP must support it (MUST-30).

Needs the control protocol's optional ``send_urgent`` (UNSUPPORTED without it); the
receiving side is left alone: what an application reads of urgent data depends on its
socket options (out-of-band or inline), not on what is on the wire.
"""

import base64

import pytest

from harness.core.bounds import PROMPT_S
from harness.core.errors import ConformanceFailure
from harness.tcp.stream import data_segments
from reference_impl.wire.tcp import URG


def urgent_segments(tcp, size):
    """The application sends ``size`` urgent bytes on a fresh connection (Nagle off); returns
    every data segment up to them."""
    conn = tcp.connect_to_target()
    tcp.set_option(conn, "nodelay", 1)
    data = base64.b64encode(b"!" * size).decode()
    tcp.control.request("send_urgent", handle=conn.handle, data=data)
    return data_segments(conn.peer, size, within=PROMPT_S)


def urgent_point(seg) -> int | None:
    """Where a segment's urgent pointer points, in the connection's relative numbers."""
    return seg.seq + seg.urgent if seg.flags & URG else None


@pytest.mark.rfc("9293", "3.8.5", req="MUST-30")
def test_urgent_data_leaves_with_urg_set(tcp):
    (first, *_rest) = urgent_segments(tcp, 10)
    if not first.flags & URG:
        raise ConformanceFailure(f"urgent data without URG: {first.describe()}")


@pytest.mark.rfc("9293", "3.8.5", req="MUST-62")
def test_the_urgent_pointer_points_after_the_urgent_data(tcp):
    """Ten urgent bytes at 1..10: the pointer is 11, the first octet that is not urgent."""
    segments = urgent_segments(tcp, 10)
    points = {urgent_point(seg) for seg in segments}
    tcp.record("urgent pointers", sorted(p for p in points if p is not None) or "none")
    if points != {11}:
        raise ConformanceFailure(
            f"urgent pointer at {points}, not 11 (after the last urgent octet)"
        )


@pytest.mark.rfc("9293", "3.8.5", req="MUST-31")
def test_urgent_data_longer_than_a_segment_keeps_its_pointer(tcp):
    """4000 urgent bytes span several segments: each carries URG and points at 4001."""
    segments = urgent_segments(tcp, 4000)
    wrong = [seg.describe() for seg in segments if urgent_point(seg) != 4001]
    tcp.record("segments", len(segments))
    if len(segments) < 2:
        raise ConformanceFailure(f"4000 bytes in {len(segments)} segment: the MSS was not kept")
    if wrong:
        raise ConformanceFailure(
            f"a segment of the urgent data without a pointer to 4001: {wrong[0]}"
        )
