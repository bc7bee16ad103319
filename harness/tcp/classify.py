"""What each segment the target sent was, before any check judges it.

A check about zero-window probes must not judge data segments, a backoff check must not time
a tail-loss probe as an RTO, and an "ACK" check must not take a window update for a reply.
``classify`` replays a connection (both directions, relative numbers) and names every
segment of the target's:

- ``new data``: carries bytes beyond anything it sent before;
- ``retransmission``: resends bytes (or a FIN) from the first one not acknowledged (an RTO
  or fast retransmit resends from SND.UNA, RFC 6298 5.4 and RFC 5681 3.2);
- ``tail-loss probe``: resends the last segment sent while earlier bytes are still
  unacknowledged (RFC 8985 7.3 probes the tail, not the head);
- ``retransmission (other)``: resends bytes from neither end of the flight;
- ``beyond the window``: carries bytes past the right edge of our last advertised window
  (a sender never does, RFC 9293 MUST-34), other than a zero-window probe's one byte;
- ``zero-window probe``: our window is zero and the segment carries at most one byte at
  SND.UNA, or nothing just below it (both forms are in use; RFC 9293 3.8.6.1);
- ``window update``: no data, same ACK number as before, a different window;
- ``ACK``: any other segment without data (SYN, FIN and RST segments are named by flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from reference_impl.wire.tcp import ACK, RST, SYN
from reference_impl.wire.tcp import FIN as FIN_FLAG

NEW_DATA = "new data"
RETRANSMISSION = "retransmission"
TAIL_LOSS_PROBE = "tail-loss probe"
OTHER_RETRANSMISSION = "retransmission (other)"
ZERO_WINDOW_PROBE = "zero-window probe"
WINDOW_UPDATE = "window update"
PURE_ACK = "ACK"
FIN = "FIN"
BEYOND_WINDOW = "beyond the window"


class SegmentLike(Protocol):  # the fields of harness.core.segment.Segment that classification reads
    @property
    def from_tester(self) -> bool: ...
    @property
    def flags(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def ack(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def seq_space(self) -> int: ...


S = TypeVar("S", bound=SegmentLike)


@dataclass
class _View:
    """What the target's side of the connection looks like from the wire."""

    una: int = 1  # the highest ACK the tester sent (relative to the target's ISN)
    window: int | None = None  # the tester's last advertised window, in bytes
    shift: int = 0  # the tester's window scale (applies after the SYN)
    snd_max: int = 1  # the target's highest sequence number sent, plus one
    last_start: int = 1  # where the target's latest new segment began
    last_ack: int | None = None
    last_window: int | None = None


def classify(conversation: Sequence[S], *, tester_shift: int = 0) -> list[tuple[S, str]]:
    """The target's segments of ``conversation`` with what each one was, in order.
    ``tester_shift``: the window scale the tester announced, if the target accepted it."""
    view = _View(shift=tester_shift)
    named: list[tuple[S, str]] = []
    for seg in conversation:
        if seg.from_tester:
            _tester_sent(view, seg)
            continue
        named.append((seg, _name(view, seg)))
        _target_sent(view, seg)
    return named


def _tester_sent(view: _View, seg: SegmentLike) -> None:
    if seg.flags & ACK:
        view.una = max(view.una, seg.ack)
        view.window = seg.window if seg.flags & SYN else seg.window << view.shift


def _target_sent(view: _View, seg: SegmentLike) -> None:
    end = seg.seq + seg.seq_space
    if seg.flags & SYN:
        view.una = view.snd_max = view.last_start = end
    elif end > view.snd_max:
        view.last_start, view.snd_max = seg.seq, end
    if seg.flags & ACK:
        view.last_ack, view.last_window = seg.ack, seg.window


def _name(view: _View, seg: SegmentLike) -> str:
    for flag, name in ((SYN, "SYN"), (RST, "RST")):
        if seg.flags & flag:
            return name
    if view.window == 0 and _probe_shaped(view, seg):
        return ZERO_WINDOW_PROBE
    carries = seg.length > 0 or bool(seg.flags & FIN_FLAG)
    if seg.length and view.window is not None and seg.seq + seg.length > view.una + view.window:
        return BEYOND_WINDOW
    if carries:
        if seg.seq + seg.seq_space > view.snd_max and seg.seq >= view.snd_max:
            return NEW_DATA if seg.length else FIN
        if seg.seq <= view.una:
            return RETRANSMISSION
        if seg.seq == view.last_start and seg.seq + seg.seq_space >= view.snd_max:
            return TAIL_LOSS_PROBE
        return OTHER_RETRANSMISSION
    if view.last_ack == seg.ack and view.last_window is not None and seg.window != view.last_window:
        return WINDOW_UPDATE
    return PURE_ACK


def _probe_shaped(view: _View, seg: SegmentLike) -> bool:
    """One byte at SND.UNA, or nothing (or one old byte) just below it."""
    return (seg.length == 1 and seg.seq == view.una) or (
        seg.length <= 1 and seg.seq == view.una - 1
    )


def of_kind(named: Sequence[tuple[S, str]], *kinds: str) -> list[S]:
    return [seg for seg, kind in named if kind in kinds]
