"""The oracle: a shadow reference connection that receives what the target received and
says what a conforming target must send, and by when.

The shadow adopts the target's ISN, MSS, window scale, SACK-permitted and receive window from
the target's own SYN or SYN-ACK, so that its predictions are in the target's numbers. Time
windows come from the profile the target is expected to follow (``--profile``): with ``rfc``
a delayed ACK may come as late as the RFC allows (just under 500 ms, MUST-40); with ``linux``
the first segments are acknowledged at once, as Linux does.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass

from harness.core.bounds import DELAYED_ACK
from harness.core.segment import judged_flags
from reference_impl.tcp.connection import TcpConnection, TcpError, rst_for_unknown
from reference_impl.tcp.profiles import LINUX, RFC, Profile
from reference_impl.tcp.states import State
from reference_impl.wire.tcp import (
    SYN,
    Mss,
    SackPermitted,
    TcpSegment,
    WindowScale,
)

# What the RFCs allow, as a profile: the latest delayed ACK just under 500 ms (MUST-40).
ORACLE_PROFILES: dict[str, Profile] = {
    # MUST-40: an ACK comes in under 500 ms; the rfc profile predicts the latest it may.
    "rfc": RFC.with_(ack_delay_us=int(DELAYED_ACK.seconds * 1_000_000) - 1_000),
    "linux": LINUX,
}


@dataclass(frozen=True)
class Prediction:
    """A segment the target must send, at the latest ``due_us`` (shadow clock)."""

    segment: TcpSegment
    fed_at_us: int  # when the stimulus that causes it was fed
    due_us: int
    tentative: bool = False  # from a timer: void if another stimulus comes first
    seq_known: bool = True  # False before the target's ISN is known (its SYN-ACK)
    by_application: bool = False  # caused by a call of the target's application

    @property
    def delay_s(self) -> float:
        return (self.due_us - self.fed_at_us) / 1e6


class Oracle:
    """Feeds a shadow TcpConnection and queues its outputs as predictions."""

    def __init__(self, profile_name: str = "rfc") -> None:
        if profile_name not in ORACLE_PROFILES:
            raise ValueError(
                f"unknown profile {profile_name!r}; known: {', '.join(ORACLE_PROFILES)}"
            )
        self.base = ORACLE_PROFILES[profile_name]
        self.shadow: TcpConnection | None = None
        self.backlog: list[tuple[TcpSegment, int]] = []  # tester segments before the shadow exists
        self.predictions: deque[Prediction] = deque()
        self.now_us = 0

    # -- learning the target ------------------------------------------------------------

    def adopt(self, target_syn: TcpSegment, tester_syn: TcpSegment | None, now_us: int) -> None:
        """Build the shadow from the target's SYN (active) or SYN-ACK (passive)."""
        profile = self._profile_like(target_syn)
        if (
            target_syn.flags & SYN
            and tester_syn is not None
            and judged_flags(tester_syn.flags) == SYN
        ):
            self.shadow = TcpConnection.accept_syn(
                tester_syn, iss=target_syn.seq, now=now_us, profile=profile
            )
            self.shadow.outgoing()  # the SYN-ACK: the target already sent its own
            self.backlog = [(s, t) for s, t in self.backlog if s is not tester_syn]
        else:
            self.shadow = TcpConnection.connect(
                target_syn.sport, target_syn.dport, iss=target_syn.seq, now=now_us, profile=profile
            )
            self.shadow.outgoing()
        backlog, self.backlog = self.backlog, []
        for seg, at in backlog:
            self.tester_sent(seg, at)
        self.predictions.clear()  # what was predicted before adoption is what we just saw

    def _profile_like(self, target_syn: TcpSegment) -> Profile:
        mss = target_syn.option(Mss)
        ws = target_syn.option(WindowScale)
        return self.base.with_(
            mss=mss.value if isinstance(mss, Mss) else self.base.default_peer_mss,
            window_scale=ws.shift if isinstance(ws, WindowScale) else None,
            sack=target_syn.option(SackPermitted) is not None,
            rcvbuf=max(
                target_syn.window << (ws.shift if isinstance(ws, WindowScale) else 0), self.base.mss
            ),
        )

    # -- stimuli ------------------------------------------------------------------------

    def tester_sent(self, seg: TcpSegment, now_us: int) -> None:
        if self.shadow is None:
            self.backlog.append((seg, now_us))
            if judged_flags(seg.flags) == SYN:
                # The answer's ACK and flags are known before its ISN is.
                answer = TcpConnection.accept_syn(seg, iss=0, now=now_us, profile=self.base)
                self._queue(answer.outgoing(), now_us, now_us, seq_known=False)
            return
        self._advance(now_us)
        self.predictions = deque(p for p in self.predictions if not p.tentative)
        if self.shadow.state == State.CLOSED:  # 3.10.7.1: as for no connection at all
            rst = rst_for_unknown(seg)
            self._queue([rst] if rst is not None else [], now_us, now_us)
            return
        self._queue(self.shadow.receive_segment(seg, now=now_us), now_us, now_us)
        self._queue_timer(now_us)

    def app_wrote(self, data: bytes, now_us: int) -> None:
        if self.shadow is not None:
            self._advance(now_us)
            try:
                self._queue(self.shadow.send(data, now=now_us), now_us, now_us, by_application=True)
            except TcpError:
                self.shadow = None  # the shadow cannot follow; no more predictions

    def app_shutdown(self, now_us: int) -> None:
        if self.shadow is not None:
            self._advance(now_us)
            self._queue(self.shadow.shutdown(now=now_us), now_us, now_us, by_application=True)

    def app_close(self, now_us: int) -> None:
        """The application closes and reads no more (the reference's release: RST for data
        left unread or arriving later, RFC 9293 SHLD-3; else a FIN)."""
        if self.shadow is not None:
            self._advance(now_us)
            self._queue(self.shadow.release(now=now_us), now_us, now_us, by_application=True)

    def app_option(self, option: str, value: int) -> None:
        """Mirror a socket option the test set on the target."""
        if self.shadow is not None and option == "nodelay":
            self.shadow.profile = self.shadow.profile.with_(nagle=not value)

    def app_read(self, size: int, now_us: int) -> None:
        if self.shadow is not None:
            self.shadow.read(size, now=now_us)
            self._queue(self.shadow.outgoing(), now_us, now_us, by_application=True)

    def _advance(self, now_us: int) -> None:
        """Fire the shadow's timers that fell due before ``now_us``."""
        assert self.shadow is not None
        while (timer := self.shadow.next_timer()) is not None and timer <= now_us:
            self.shadow.on_timer(now=timer)

    def _queue_timer(self, fed_at: int) -> None:
        """What the shadow will send when its next timer fires (a delayed ACK, typically),
        computed on a copy so that the shadow itself is not moved forward."""
        assert self.shadow is not None
        timer = self.shadow.next_timer()
        if timer is None or any(p.fed_at_us == fed_at for p in self.predictions):
            return
        probe = copy.deepcopy(self.shadow)
        self._queue(probe.on_timer(now=timer), fed_at, timer, tentative=True)

    def _queue(
        self,
        segments: list[TcpSegment],
        fed_at: int,
        due: int,
        *,
        tentative: bool = False,
        seq_known: bool = True,
        by_application: bool = False,
    ) -> None:
        for seg in segments:
            self.predictions.append(
                Prediction(seg, fed_at, due, tentative, seq_known, by_application)
            )

    # -- checking -----------------------------------------------------------------------

    def next_prediction(self) -> Prediction | None:
        return self.predictions[0] if self.predictions else None

    def consume(self) -> None:
        """The predicted segment was seen: drop it, and move the shadow past its timer."""
        prediction = self.predictions.popleft()
        if self.shadow is not None and prediction.due_us > prediction.fed_at_us:
            self._advance(prediction.due_us)
