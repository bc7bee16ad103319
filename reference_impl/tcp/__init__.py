"""The reference TCP (RFC 9293 with RFCs 5681, 6582, 6298, 2018, 7323, 5961), sans-I/O."""

from __future__ import annotations

from reference_impl.wire.errors import WireError
from reference_impl.wire.tcp import TcpSegment, tcp_checksum_ok


def decode_checked(
    src: str, dst: str, raw: bytes, *, checksum_verified: bool = False
) -> TcpSegment | None:
    """The segment in ``raw``, or None if it must be dropped silently: a bad checksum
    (RFC 9293 3.1, MUST-3) or a malformed header (MUST-7). Never raises.
    ``checksum_verified``: the device below already checked the checksum (the field may
    then hold a partial sum)."""
    if not checksum_verified and not tcp_checksum_ok(src, dst, raw):
        return None
    try:
        return TcpSegment.parse(raw)
    except WireError:
        return None
