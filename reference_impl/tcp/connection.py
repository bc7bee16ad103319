"""TcpConnection: one RFC 9293 connection, sans-I/O, with time injected in microseconds.

Every method that can make segments leaves them in an outbox; ``receive_segment``,
``send``, ``shutdown``, ``abort`` and ``on_timer`` return them, and ``outgoing()`` hands
over whatever else is pending (the window update that ``read`` may cause).

Segment arrival follows the order of RFC 9293 section 3.10.7.4: sequence acceptability,
RST, SYN, ACK, data, FIN. Sending follows 3.8.6 (windows, SWS avoidance, Nagle), RFC 6298
(retransmission timer), RFC 5681/6582 (congestion control), RFC 2018/6675 (SACK).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference_impl.tcp import seq
from reference_impl.tcp.congestion import NewReno
from reference_impl.tcp.profiles import RFC, Profile
from reference_impl.tcp.reassembly import Reassembly, Scoreboard
from reference_impl.tcp.rtt import RttEstimator
from reference_impl.tcp.states import (
    CAN_SEND,
    KEEPS_ALIVE,
    RECEIVES_DATA,
    Event,
    State,
    Timer,
    TransitionError,
    next_state,
)
from reference_impl.wire.tcp import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Mss,
    Sack,
    SackPermitted,
    TcpOption,
    TcpSegment,
    WindowScale,
    build_segment,
    emit_options,
)

MAX_WINDOW_SHIFT = 14  # RFC 7323 2.3
MIN_PEER_MSS = 64  # below this an announced MSS is treated as this (Linux uses 48)
IP_TCP_HEADERS = 40  # IPv4 and TCP headers without options
# A path MTU below 576 (every IPv4 host's reassembly minimum, RFC 1122 3.3.2) is not
# believed: a forged fragmentation-needed message must not shrink segments to nothing.
MIN_PATH_MTU = 576
SENDS_AFTER_CLOSE = frozenset({State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK})
SENDS = CAN_SEND | SENDS_AFTER_CLOSE  # states with output to attempt (made once: hot path)


class TcpError(Exception):
    """API misuse: sending on a closed connection, overfilling the send buffer."""


@dataclass
class RttProbe:
    """One segment being timed (RFC 6298 section 3, Karn's rule in section 5 of RFC 6298)."""

    end: int
    sent_at: int


class TcpConnection:
    def __init__(
        self, local_port: int, remote_port: int, *, iss: int, profile: Profile = RFC
    ) -> None:
        self.local_port, self.remote_port = local_port, remote_port
        self.profile = profile
        self.state = State.CLOSED
        self.error: str | None = None  # "reset", "refused", "timeout", "aborted"
        # Send sequence space (RFC 9293 3.3.1); snd_max is the highest sequence sent.
        self.iss = iss
        self.snd_una = self.snd_nxt = self.snd_max = iss
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = self.max_snd_wnd = 0
        self.snd_wscale = self.rcv_wscale = 0
        # Receive sequence space; rcv_adv is the right edge we last advertised.
        self.irs = self.rcv_nxt = self.rcv_adv = 0
        self.peer_mss = profile.default_peer_mss
        self.sack_ok = self.ws_ok = False
        self._send_buf = bytearray()  # bytes from SND.UNA on
        self._fin_seq: int | None = None  # where our FIN goes, once the application closed
        self._close_queued = False  # CLOSE in SYN-RECEIVED with data pending (3.10.4)
        self.reads_closed = False  # released: the application reads no more (MAY-1)
        self.path_mss = 65535  # lowered by ICMP fragmentation-needed (RFC 1191)
        self.snd_up: int | None = None  # the octet after the urgent data (MUST-62)
        self.keepalives_unanswered = 0
        self._rcv_buf = bytearray()  # in-order bytes the application has not read
        self.ooo = Reassembly()
        self.fin_received = False
        self.rtt = RttEstimator(
            profile.initial_rto_us,
            profile.min_rto_us,
            profile.max_rto_us,
            profile.clock_granularity_us,
        )
        self.cc = NewReno.initial(profile.default_peer_mss, profile.initial_window_segments)
        self.scoreboard = Scoreboard()
        self.dupacks = 0
        self.retransmits = 0  # consecutive timeouts without progress
        self.persist_backoff = 0
        self.timers: dict[Timer, int] = {}
        self._probe: RttProbe | None = None
        self._unacked_bytes = 0  # received but not yet acknowledged (delayed ACK)
        self._quickacks = profile.quickack_segments
        self._outbox: list[TcpSegment] = []
        self.passive = False

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def connect(
        cls, local_port: int, remote_port: int, *, iss: int, now: int, profile: Profile = RFC
    ) -> TcpConnection:
        """Active open: send SYN (3.10.1). The SYN is in ``outgoing()``."""
        conn = cls(local_port, remote_port, iss=iss, profile=profile)
        conn._transition(Event.OPEN_ACTIVE)
        conn._send_syn(now, ack=False)
        return conn

    @classmethod
    def accept_syn(
        cls, syn: TcpSegment, *, iss: int, now: int, profile: Profile = RFC
    ) -> TcpConnection:
        """Passive open from a listener's SYN (3.10.7.2): answer SYN-ACK, go to SYN-RECEIVED."""
        conn = cls(syn.dport, syn.sport, iss=iss, profile=profile)
        conn.passive = True
        conn._transition(Event.OPEN_PASSIVE)
        conn._learn_peer_syn(syn)
        conn._transition(Event.RCV_SYN)
        conn._send_syn(now, ack=True)
        return conn

    def _syn_options(self, replying: bool) -> tuple[TcpOption, ...]:
        """MSS always (MAY-3); window scale and SACK-permitted in a SYN-ACK only if the
        peer's SYN carried them (RFC 7323 1.3, RFC 2018 2)."""
        options: list[TcpOption] = [Mss(self.profile.mss)]
        shift = self.profile.window_scale
        if shift is not None and (not replying or self.ws_ok):
            options.append(WindowScale(shift))
        if self.profile.sack and (not replying or self.sack_ok):
            options.append(SackPermitted())
        return tuple(options)

    def _learn_peer_syn(self, syn: TcpSegment) -> None:
        """Take the peer's ISN and options (MSS: MUST-14/15, RFC 7323, RFC 2018)."""
        self.irs = syn.seq
        self.rcv_nxt = self.rcv_adv = seq.add(syn.seq, 1)
        mss = syn.option(Mss)
        self.peer_mss = mss.value if isinstance(mss, Mss) else self.profile.default_peer_mss
        self.peer_mss = max(self.peer_mss, MIN_PEER_MSS)  # a hostile MSS of 0 must not stall us
        ws = syn.option(WindowScale)
        if isinstance(ws, WindowScale) and self.profile.window_scale is not None:
            self.ws_ok = True
            self.snd_wscale = min(ws.shift, MAX_WINDOW_SHIFT)
            self.rcv_wscale = self.profile.window_scale
        self.sack_ok = self.profile.sack and syn.option(SackPermitted) is not None
        self.snd_wnd = syn.window  # never scaled in a SYN
        self.max_snd_wnd = self.snd_wnd
        self.snd_wl1, self.snd_wl2 = syn.seq, syn.ack

    def _send_syn(self, now: int, *, ack: bool) -> None:
        options = self._syn_options(replying=ack)
        self._emit(SYN | (ACK if ack else 0), self.iss, options=options)
        self.snd_nxt = self.snd_max = seq.add(self.iss, 1)
        if self._probe is None and self.retransmits == 0:
            self._probe = RttProbe(self.snd_nxt, now)
        self._arm(Timer.RETRANSMISSION, now + self.rtt.rto_us)

    @property
    def eff_mss(self) -> int:
        """MUST-16: the largest payload we send, from the peer's MSS, our own MTU and the
        path's, once an ICMP message told it (RFC 1191)."""
        return min(self.peer_mss, self.profile.mss, self.path_mss)

    def icmp_error(self, kind: str, quoted_seq: int, *, mtu: int = 0, now: int) -> list[TcpSegment]:
        """An ICMP error about one of our segments (RFC 9293 3.9.2.2, MUST-54). ``kind`` is
        "hard" (protocol or port unreachable: abort, SHLD-26), "soft" (net or host
        unreachable, source route failed, source quench: nothing, MUST-55/56) or "mtu"
        (fragmentation needed: segments fit ``mtu`` and the flight is sent again). One
        quoting a sequence number we have not sent, or had acknowledged, is not about this
        connection's segments in flight and is ignored (RFC 5927 4.1)."""
        if not (seq.le(self.snd_una, quoted_seq) and seq.le(quoted_seq, self.snd_nxt)):
            return self.outgoing()
        if kind == "hard":
            self._reset("unreachable")
        elif kind == "mtu" and mtu and mtu - IP_TCP_HEADERS < self.eff_mss:
            self.path_mss = max(mtu, MIN_PATH_MTU) - IP_TCP_HEADERS
            self.snd_nxt = self.snd_una  # the flight was too large: send it again, smaller
            self._output(now)
        return self.outgoing()

    def _established(self) -> None:
        self.cc = NewReno.initial(self.eff_mss, self.profile.initial_window_segments)

    # -- application interface --------------------------------------------------------------

    @property
    def send_space(self) -> int:
        return max(0, self.profile.sndbuf - len(self._send_buf))

    def send(self, data: bytes | memoryview, *, now: int, urgent: bool = False) -> list[TcpSegment]:
        """Queue application data (3.10.2) and send what the windows allow. ``urgent``
        marks it urgent (3.8.5): the urgent pointer moves to the octet after it."""
        if (
            self._fin_seq is not None
            or self._close_queued
            or self.state not in CAN_SEND | {State.SYN_SENT, State.SYN_RECEIVED}
        ):
            raise TcpError(f"cannot send in {self.state.value} after close or reset")
        if len(data) > self.send_space:
            raise TcpError(f"send buffer full: {len(data)} bytes offered, {self.send_space} free")
        self._send_buf += data
        if urgent:
            self.snd_up = seq.add(self._data_start(), len(self._send_buf))
        self._output(now)
        return self.outgoing()

    @property
    def readable(self) -> int:
        return len(self._rcv_buf)

    @property
    def at_eof(self) -> bool:
        """The peer's FIN arrived and every byte before it has been read."""
        return self.fin_received and not self._rcv_buf

    def read(self, max_bytes: int, *, now: int) -> bytes:
        """Hand data to the application (3.10.3); a window update may follow in outgoing()."""
        if max_bytes >= len(self._rcv_buf):  # all of it: one copy, not a slice and a copy
            data = bytes(self._rcv_buf)
            self._rcv_buf.clear()
        else:
            data = bytes(self._rcv_buf[:max_bytes])
            del self._rcv_buf[:max_bytes]
        if data and self.state in RECEIVES_DATA and self._window_update_due():
            self._emit_ack()
        return data

    def shutdown(self, *, now: int) -> list[TcpSegment]:
        """Close our sending side (3.10.4): a FIN follows the queued data."""
        if self._fin_seq is not None or self._close_queued or self.state == State.CLOSED:
            return self.outgoing()
        if self.state == State.SYN_SENT:
            self._transition(Event.CLOSE)
            self.timers.clear()
            return self.outgoing()
        if self.state == State.SYN_RECEIVED and self._send_buf:
            self._close_queued = True  # with data pending: after ESTABLISHED (3.10.4)
            return self.outgoing()
        self._close(now)
        return self.outgoing()

    def _close(self, now: int) -> None:
        self._transition(Event.CLOSE)
        self._fin_seq = seq.add(self._data_start(), len(self._send_buf))
        self._output(now)

    close = shutdown  # the application may still read after CLOSE (3.10.4)

    def release(self, *, now: int) -> list[TcpSegment]:
        """The application closes and will read no more (a half-duplex close, MAY-1): data
        it left unread, or that comes later, is lost, and the peer hears so by RST (SHLD-3)."""
        if self.readable:
            return self.abort(now=now)
        self.reads_closed = True
        return self.shutdown(now=now)

    def abort(self, *, now: int) -> list[TcpSegment]:
        """ABORT (3.10.5): RST in synchronized states, then CLOSED."""
        self._abort()
        return self.outgoing()

    def _abort(self) -> None:
        if self.state not in (State.CLOSED, State.LISTEN, State.SYN_SENT, State.TIME_WAIT):
            self._emit(RST | ACK, self.snd_nxt)
        self._reset("aborted")

    def outgoing(self) -> list[TcpSegment]:
        out, self._outbox = self._outbox, []
        return out

    def info(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "snd_una": self.snd_una,
            "snd_nxt": self.snd_nxt,
            "snd_wnd": self.snd_wnd,
            "rcv_nxt": self.rcv_nxt,
            "rcv_wnd": self._rcv_wnd(),
            "cwnd": self.cc.cwnd,
            "ssthresh": self.cc.ssthresh,
            "rto_us": self.rtt.rto_us,
            "srtt_us": self.rtt.srtt_us,
            "eff_mss": self.eff_mss,
            "error": self.error,
        }

    # -- timers --------------------------------------------------------------------------

    def next_timer(self) -> int | None:
        return min(self.timers.values()) if self.timers else None

    def _arm(self, timer: Timer, at: int) -> None:
        self.timers[timer] = at

    def _disarm(self, timer: Timer) -> None:
        self.timers.pop(timer, None)

    def on_timer(self, *, now: int) -> list[TcpSegment]:
        """Run the handler of every timer that has expired, in Timer's order."""
        handlers = {
            Timer.RETRANSMISSION: self._on_rtx_timeout,
            Timer.DELAYED_ACK: self._on_delack_timeout,
            Timer.PERSIST: self._on_persist_timeout,
            Timer.TIME_WAIT: self._on_timewait_timeout,
            Timer.KEEPALIVE: self._on_keepalive_timeout,
        }
        for timer in Timer:
            at = self.timers.get(timer)
            if at is not None and at <= now and self.state != State.CLOSED:
                del self.timers[timer]
                handlers[timer](now)
        return self.outgoing()

    def _on_delack_timeout(self, now: int) -> None:
        self._emit_ack()

    def _on_timewait_timeout(self, now: int) -> None:
        self._transition(Event.TIMEOUT_2MSL)
        self.timers.clear()

    def set_keepalive(self, idle_us: int, *, now: int) -> None:
        """Keep-alives on (``idle_us`` of silence before the first probe, and between
        unanswered ones) or off with 0 (3.8.4: only when the application asks, MUST-24)."""
        interval = idle_us or self.profile.keepalive_interval_us
        self.profile = self.profile.with_(keepalive_idle_us=idle_us, keepalive_interval_us=interval)
        self.keepalives_unanswered = 0
        self._arm_keepalive(now)

    def _arm_keepalive(self, now: int) -> None:
        if self.profile.keepalive_idle_us and self.state in KEEPS_ALIVE:
            self._arm(Timer.KEEPALIVE, now + self.profile.keepalive_idle_us)
        else:
            self._disarm(Timer.KEEPALIVE)

    def _on_keepalive_timeout(self, now: int) -> None:
        """3.8.4: after an idle interval (MUST-26) an empty segment one below SND.NXT
        (SHLD-12) draws the peer's ACK. One unanswered probe is not a dead connection
        (MUST-29): give up after ``keepalive_probes``. While data is outstanding the
        retransmission timer is in charge."""
        if self._flight() > 0 or self._unsent():
            self._arm_keepalive(now)
            return
        if self.keepalives_unanswered >= self.profile.keepalive_probes:
            self.error = "timeout"
            self._abort()
            return
        self._emit(ACK, seq.add(self.snd_nxt, -1))
        self.keepalives_unanswered += 1
        self._arm(Timer.KEEPALIVE, now + self.profile.keepalive_interval_us)

    def _on_persist_timeout(self, now: int) -> None:
        """3.8.6.1: probe a zero window; the probes back off exponentially (SHLD-29/30)."""
        if self.snd_wnd > 0 or not self._unsent():
            self.persist_backoff = 0
            self._output(now)
            return
        if self.profile.zero_window_probe == "below_una":
            self._emit(ACK, seq.add(self.snd_una, -1))
        else:
            offset = seq.diff(self.snd_nxt, self._data_start())
            self._emit(ACK, self.snd_nxt, bytes(self._send_buf[offset : offset + 1]))
            if seq.gt(seq.add(self.snd_nxt, 1), self.snd_max):
                self.snd_max = seq.add(self.snd_nxt, 1)
        self.persist_backoff += 1
        self._arm_persist(now)

    def _arm_persist(self, now: int) -> None:
        delay = min(self.rtt.rto_us << self.persist_backoff, self.profile.persist_max_us)
        self._arm(Timer.PERSIST, now + max(delay, self.rtt.min_rto_us))

    def _on_rtx_timeout(self, now: int) -> None:
        """RFC 6298 5.4-5.7: retransmit the earliest unacknowledged segment, back off. While
        our SYN is unacknowledged that segment is the SYN (also in FIN-WAIT-1, closed from
        SYN-RECEIVED), and whatever follows it waits."""
        self.retransmits += 1
        syn_unacked = self.snd_una == self.iss
        limit = self.profile.syn_retries if syn_unacked else self.profile.data_retries
        if self.retransmits > limit:
            self._reset("timeout")  # MUST-20: give up after R2
            return
        self._probe = None  # Karn: never time a retransmitted segment
        self.rtt.on_timeout()
        if syn_unacked:
            self._send_syn(now, ack=self.state != State.SYN_SENT)
            if self.state in SENDS_AFTER_CLOSE:
                self._output(now)  # the FIN, once more, after the SYN-ACK
            return
        self.cc.on_timeout(self._flight())
        self.scoreboard.clear()
        self.dupacks = 0
        self.snd_nxt = self.snd_una  # go back: resend from the first unacknowledged byte
        self._output(now, force_one=True)
        self._arm(Timer.RETRANSMISSION, now + self.rtt.rto_us)

    # -- segment arrival (3.10.7) -------------------------------------------------------------

    def receive_segment(self, segment: TcpSegment, *, now: int) -> list[TcpSegment]:
        if self.state in (State.CLOSED, State.LISTEN):
            return self.outgoing()  # the host answers for closed ports (rst_for_unknown)
        if self.state == State.SYN_SENT:
            self._syn_sent_arrival(segment, now)
        else:
            self._synchronized_arrival(segment, now)
        if self.state in SENDS:
            self._output(now)
        return self.outgoing()

    def _syn_sent_arrival(self, seg: TcpSegment, now: int) -> None:
        """3.10.7.3."""
        if seg.flags & ACK and (seq.le(seg.ack, self.iss) or seq.gt(seg.ack, self.snd_max)):
            if not seg.flags & RST:
                self._emit(RST, seg.ack)
            return
        if seg.flags & RST:
            if seg.flags & ACK:
                self._reset("refused")
            return
        if not seg.flags & SYN:
            return
        self._learn_peer_syn(seg)
        if seg.flags & ACK:
            self._ack_our_syn(seg.ack, now)
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self._transition(Event.RCV_SYN_ACK)
            self._established()
            self._emit_ack()
        else:  # simultaneous open (MUST-10)
            self._transition(Event.RCV_SYN)
            self._disarm(Timer.RETRANSMISSION)
            self.retransmits = 0
            self._send_syn(now, ack=True)

    def _ack_our_syn(self, ack: int, now: int) -> None:
        self.snd_una = ack
        if self._probe is not None and seq.ge(ack, self._probe.end):
            self.rtt.on_sample(now - self._probe.sent_at)
        self._probe = None
        self.retransmits = 0
        self._disarm(Timer.RETRANSMISSION)

    def _synchronized_arrival(self, seg: TcpSegment, now: int) -> None:
        if Timer.KEEPALIVE in self.timers:  # the peer is alive: the idle time starts again
            self.keepalives_unanswered = 0
            self._arm_keepalive(now)
        if self._next_in_order_data(seg):
            # Header prediction: of 3.10.7.4's steps only the send window update and the
            # text are left to do; the differential test in tests/reference checks this.
            self._update_send_window(seg)
            self._on_data(seg, now)
            return
        if seg.flags & SYN and seg.seq == self.irs:  # the peer's SYN, once more
            if self.state == State.SYN_RECEIVED and not seg.flags & ACK:
                self._send_syn(now, ack=True)  # our SYN-ACK was lost: send it again
                return
            if self.state != State.SYN_RECEIVED:
                self._emit_ack()  # a repeated SYN-ACK: our ACK was lost
                return
            # Simultaneous open: the peer's SYN-ACK. Its SYN lies before the window; trimmed
            # off (3.10.7.4), what is left is an ACK at RCV.NXT, which completes the open.
            seg = TcpSegment(
                seg.sport,
                seg.dport,
                seq.add(seg.seq, 1),
                seg.ack,
                seg.flags & ~SYN,
                seg.window,
                seg.payload,
                seg.options,
                seg.urgent,
            )
        if not self._acceptable(seg):  # first: sequence number
            if not seg.flags & RST:
                self._emit_ack()
                if self.state == State.TIME_WAIT and seg.flags & FIN:
                    self._arm(Timer.TIME_WAIT, now + self.profile.time_wait_us)
            return
        if seg.flags & RST:  # second: RST (RFC 5961 3.2)
            if seg.seq == self.rcv_nxt:
                self._reset("refused" if self.state == State.SYN_RECEIVED else "reset")
            else:
                self._emit_ack()  # challenge ACK
            return
        if seg.flags & SYN:  # fourth: SYN in a synchronized state (RFC 5961 4.2)
            self._emit_ack()  # challenge ACK
            return
        if not seg.flags & ACK:  # fifth: ACK
            return
        seg = self._trim_to_window(seg)
        if not self._on_ack(seg, now):
            return
        if seg.payload and self.state in RECEIVES_DATA:  # seventh: segment text
            if self.reads_closed:
                self._abort()  # no one will ever read it (SHLD-3)
                return
            self._on_data(seg, now)
        if seg.flags & FIN:  # eighth: FIN
            self._on_fin(seq.add(seg.seq, len(seg.payload)), now)

    def _next_in_order_data(self, seg: TcpSegment) -> bool:
        """Bulk data as it usually comes (header prediction, RFC 1323's and Van Jacobson's):
        ESTABLISHED, our side idle, the next octets in order, inside the window, with no
        option and no flag but ACK and PSH, nothing queued out of order. Such a segment
        passes every test of 3.10.7.4 and acknowledges nothing new."""
        return (
            self.state == State.ESTABLISHED
            and seg.flags | PSH == ACK | PSH
            and seg.seq == self.rcv_nxt
            and seg.ack == self.snd_una == self.snd_max
            and not seg.options
            and 0 < len(seg.payload) <= self._rcv_wnd()
            and not self.ooo
            and not self.reads_closed
            and self._fin_seq is None
        )

    def _rcv_wnd(self) -> int:
        return max(0, seq.diff(self.rcv_adv, self.rcv_nxt))

    def _acceptable(self, seg: TcpSegment) -> bool:
        """The four cases of the acceptability test (3.10.7.4, first)."""
        wnd, length = self._rcv_wnd(), seg.seg_len
        if wnd == 0 and seg.flags & RST:
            return seg.seq == self.rcv_nxt  # MUST-66: an RST counts even at a zero window
        if length == 0:
            return (
                seg.seq == self.rcv_nxt
                if wnd == 0
                else seq.between(self.rcv_nxt, seg.seq, seq.add(self.rcv_nxt, wnd))
            )
        if wnd == 0:
            return False
        end = seq.add(seg.seq, length - 1)
        right = seq.add(self.rcv_nxt, wnd)
        return seq.between(self.rcv_nxt, seg.seq, right) or seq.between(self.rcv_nxt, end, right)

    def _trim_to_window(self, seg: TcpSegment) -> TcpSegment:
        """Keep only the part of the segment inside the receive window (3.10.7.4)."""
        start, payload, flags = seg.seq, seg.payload, seg.flags
        if flags & SYN:
            flags &= ~SYN
            start = seq.add(start, 1)
        early = seq.diff(self.rcv_nxt, start)
        if early > 0:
            payload, start = payload[early:], self.rcv_nxt
        room = seq.diff(seq.add(self.rcv_nxt, self._rcv_wnd()), start)
        if len(payload) > room:
            payload, flags = payload[: max(room, 0)], flags & ~FIN
        if (start, payload, flags) == (seg.seq, seg.payload, seg.flags):
            return seg
        return TcpSegment(
            seg.sport,
            seg.dport,
            start,
            seg.ack,
            flags,
            seg.window,
            payload,
            seg.options,
            seg.urgent,
        )

    def _on_ack(self, seg: TcpSegment, now: int) -> bool:
        """3.10.7.4 fifth: returns False when the segment is to be dropped."""
        ack = seg.ack
        if self.state == State.SYN_RECEIVED:
            if not (seq.gt(ack, self.snd_una) and seq.le(ack, self.snd_max)):
                self._emit(RST, ack)
                return False
            self._ack_our_syn(ack, now)
            self._transition(Event.RCV_ACK_OF_SYN)
            self._established()
            # 3.10.7.4 fifth, SYN-RECEIVED: SND.WND, SND.WL1 and SND.WL2 come from this ACK.
            self.snd_wnd = seg.window << self.snd_wscale
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            if self._close_queued:
                self._close_queued = False
                self._close(now)
        if seq.gt(ack, self.snd_max):
            self._emit_ack()  # acknowledges something not yet sent
            return False
        if seq.lt(ack, seq.add(self.snd_una, -max(self.max_snd_wnd, 1))):
            self._emit_ack()  # RFC 5961 5.2: too old to be believed: drop, and ACK
            return False
        old_wnd = self.snd_wnd
        self._update_send_window(seg)
        if self.sack_ok:
            sack = seg.option(Sack)
            if isinstance(sack, Sack):
                self.scoreboard.update(sack.blocks, self.snd_una, self.snd_max)
        if seq.gt(ack, self.snd_una):
            self._on_new_ack(ack, now)
        elif self._is_duplicate_ack(seg, old_wnd):
            self._on_duplicate_ack(now)
        self._after_fin_acked(now)
        return self.state != State.CLOSED

    def _update_send_window(self, seg: TcpSegment) -> None:
        """SND.WND from the newest segment only (SND.WL1/WL2, 3.10.7.4 fifth)."""
        if seq.lt(self.snd_wl1, seg.seq) or (
            self.snd_wl1 == seg.seq and seq.le(self.snd_wl2, seg.ack)
        ):
            opened = self.snd_wnd == 0 and seg.window > 0
            self.snd_wnd = seg.window << self.snd_wscale
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
            if opened:
                self._disarm(Timer.PERSIST)
                self.persist_backoff = 0

    def _is_duplicate_ack(self, seg: TcpSegment, old_wnd: int) -> bool:
        """RFC 5681 section 2's five conditions."""
        return (
            self._flight() > 0
            and not seg.payload
            and not seg.flags & (SYN | FIN)
            and seg.ack == self.snd_una
            and (seg.window << self.snd_wscale) == old_wnd
        )

    def _on_new_ack(self, ack: int, now: int) -> None:
        acked = seq.diff(ack, self.snd_una)
        data_acked = min(seq.diff(ack, self._data_start()), len(self._send_buf))
        del self._send_buf[:data_acked]
        self.snd_una = ack
        if self.snd_up is not None and seq.ge(ack, self.snd_up):
            self.snd_up = None  # all urgent data is acknowledged: back to normal mode
        if seq.gt(ack, self.snd_nxt):
            self.snd_nxt = ack
        if self._probe is not None and seq.ge(ack, self._probe.end):
            self.rtt.on_sample(now - self._probe.sent_at)
            self._probe = None
        self.retransmits = 0
        self.scoreboard.on_cumulative_ack(ack)
        self._congestion_on_ack(ack, acked, now)
        self.dupacks = 0
        if self._flight() > 0:
            self._arm(Timer.RETRANSMISSION, now + self.rtt.rto_us)  # RFC 6298 5.3
        else:
            self._disarm(Timer.RETRANSMISSION)  # 5.2

    def _congestion_on_ack(self, ack: int, acked: int, now: int) -> None:
        cc = self.cc
        if not cc.in_recovery:
            cc.on_new_ack(acked)
        elif cc.is_full_ack(ack):
            cc.on_full_ack(self._flight())
        else:  # partial ACK: the next hole is lost too (RFC 6582 3.2 step 3)
            cc.on_partial_ack(acked)
            self._retransmit_first(now)

    def _on_duplicate_ack(self, now: int) -> None:
        self.dupacks += 1
        cc = self.cc
        if cc.in_recovery:
            cc.on_dupack_in_recovery()
            if self.profile.sack_recovery and self.sack_ok:
                self._retransmit_sack_holes(now)
        elif self.dupacks == self.profile.dupack_threshold:
            cc.on_enter_recovery(self._flight(), self.snd_max)  # fast retransmit
            self._retransmit_first(now)

    def _retransmit_first(self, now: int) -> None:
        """Resend the earliest unacknowledged segment (fast retransmit, partial ACK)."""
        self._probe = None
        size = min(self.eff_mss, len(self._send_buf))
        if size:
            self._emit(ACK, self.snd_una, bytes(self._send_buf[:size]))
            if self.sack_ok:
                self.scoreboard.retransmitted.add(self.snd_una)
        elif self._fin_sent():
            self._emit(FIN | ACK, self.snd_una)
        self._arm(Timer.RETRANSMISSION, now + self.rtt.rto_us)

    def _retransmit_sack_holes(self, now: int) -> None:
        """RFC 6675 (simplified NextSeg): resend unSACKed holes while the pipe allows."""
        pipe = self._flight() - self.scoreboard.sacked_bytes()
        while pipe < self.cc.cwnd:
            hole = self.scoreboard.next_hole(self.snd_una)
            if hole is None:
                return
            start, end = hole
            offset = seq.diff(start, self.snd_una)
            size = min(self.eff_mss, seq.diff(end, start), len(self._send_buf) - offset)
            if size <= 0:
                return
            self._emit(ACK, start, bytes(self._send_buf[offset : offset + size]))
            self.scoreboard.retransmitted.add(start)
            pipe += size

    def _after_fin_acked(self, now: int) -> None:
        if self._fin_seq is None or not seq.gt(self.snd_una, self._fin_seq):
            return
        if self.state in (State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK):
            self._transition(Event.RCV_ACK_OF_FIN)
            self._disarm(Timer.RETRANSMISSION)
            if self.state == State.TIME_WAIT:
                self._enter_time_wait(now)
            elif self.state == State.CLOSED:
                self.timers.clear()

    def _on_data(self, seg: TcpSegment, now: int) -> None:
        """3.10.7.4 seventh, with RFC 5681 4.2's immediate ACKs and RFC 1122's delayed ACK."""
        payload = self._before_fin(seg.seq, seg.payload)
        if seg.seq != self.rcv_nxt:
            self.ooo.insert(seg.seq, payload, self.rcv_nxt)  # SHLD-31
            self._emit_ack()  # out of order: immediate duplicate ACK
            return
        filled_hole = bool(self.ooo)
        self._rcv_buf += payload
        self.rcv_nxt = seq.add(self.rcv_nxt, len(payload))
        more, self.rcv_nxt = self.ooo.pop_in_order(self.rcv_nxt)
        self._rcv_buf += more
        if self.ooo.fin_at is not None and self.ooo.fin_at == self.rcv_nxt:
            self.ooo.fin_at = None
            self._on_fin(self.rcv_nxt, now)
            return
        if filled_hole:
            self._emit_ack()  # the segment fills (part of) a hole: ACK at once
        else:
            self._ack_or_delay(len(payload), now)

    def _before_fin(self, start: int, payload: bytes) -> bytes:
        """The part of ``payload`` before a FIN already seen out of order: nothing after a
        FIN can be delivered, so nothing after it is kept."""
        fin_at = self.ooo.fin_at
        if fin_at is None:
            return payload
        return payload[: max(seq.diff(fin_at, start), 0)]

    def _ack_or_delay(self, received: int, now: int) -> None:
        """Delayed ACK: at least every 2 x RMSS (SHLD-19), never later than the delay (MUST-40)."""
        self._unacked_bytes += received
        if not self.profile.delayed_ack or self._quickacks > 0:
            self._quickacks = max(0, self._quickacks - 1)
            self._emit_ack()
        elif self._unacked_bytes >= self.profile.ack_every_full_segments * self.profile.mss:
            self._emit_ack()
        elif Timer.DELAYED_ACK not in self.timers:
            self._arm(Timer.DELAYED_ACK, now + self.profile.ack_delay_us)

    def _on_fin(self, fin_seq: int, now: int) -> None:
        """3.10.7.4 eighth: a FIN takes one sequence number, only when it is next in order."""
        if self.state in (State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            if self.state == State.TIME_WAIT:
                self._arm(Timer.TIME_WAIT, now + self.profile.time_wait_us)
            self._emit_ack()
            return
        if fin_seq != self.rcv_nxt:
            self.ooo.fin_at = fin_seq
            self._emit_ack()
            return
        self.rcv_nxt = seq.add(self.rcv_nxt, 1)
        self.fin_received = True
        self.ooo = Reassembly()  # nothing beyond a FIN is ever delivered
        self._transition(Event.RCV_FIN)
        if self.state == State.CLOSE_WAIT and self.profile.delayed_ack:
            # The ACK of a FIN is an ACK like any other: it may wait (MUST-40 bounds it), and
            # the application's own FIN often follows soon enough to carry it.
            if Timer.DELAYED_ACK not in self.timers:
                self._arm(Timer.DELAYED_ACK, now + self.profile.ack_delay_us)
        else:
            self._emit_ack()
        if self.state == State.TIME_WAIT:
            self._enter_time_wait(now)

    def _enter_time_wait(self, now: int) -> None:
        self.timers.clear()
        self._arm(Timer.TIME_WAIT, now + self.profile.time_wait_us)  # MUST-13

    # -- sending (3.8.6, RFC 5681) ------------------------------------------------------------

    def _flight(self) -> int:
        return seq.diff(self.snd_nxt, self.snd_una)

    def _urgent_offset(self, flags: int, start: int) -> int:
        """3.8.5: every segment that starts before the urgent pointer carries URG and the
        pointer as an offset from its own sequence number (at most 0xFFFF, MUST-31)."""
        if self.snd_up is None or flags & (SYN | RST) or not seq.lt(start, self.snd_up):
            return 0
        return min(seq.diff(self.snd_up, start), 0xFFFF)

    def _data_start(self) -> int:
        """Sequence number of the first byte in the send buffer (after our SYN)."""
        return seq.add(self.snd_una, 1) if self.snd_una == self.iss else self.snd_una

    def _unsent(self) -> int:
        sent = max(seq.diff(self.snd_nxt, self._data_start()), 0)
        return len(self._send_buf) - min(sent, len(self._send_buf))

    def _fin_sent(self) -> bool:
        return self._fin_seq is not None and seq.gt(self.snd_max, self._fin_seq)

    def _output(self, now: int, *, force_one: bool = False) -> None:
        """Send new (or, after a timeout, resent) data while the windows allow (MUST-34)."""
        if self.state not in SENDS:
            return
        while True:
            in_flight = max(self._flight(), 0)
            unsent = self._unsent()
            if unsent == 0:
                self._maybe_send_fin(now)
                return
            window = min(self.snd_wnd, self.cc.cwnd)
            usable = window - in_flight
            if force_one:
                usable = max(usable, min(self.eff_mss, self.snd_wnd)) if self.snd_wnd else 0
            if usable <= 0:
                if self.snd_wnd == 0 and in_flight == 0 and Timer.PERSIST not in self.timers:
                    self._arm_persist(now)
                return
            sack = self._sack_option()
            room = self.eff_mss - len(emit_options(sack)) if sack else self.eff_mss
            size = min(unsent, usable, room)
            if not force_one and not self._sws_allows(size, unsent, in_flight):
                return
            if not force_one and self._send_full_run(room, unsent, usable, sack, now):
                continue
            self._send_data(size, unsent, sack, now)
            if force_one:
                return

    def _sws_allows(self, size: int, unsent: int, in_flight: int) -> bool:
        """Sender SWS avoidance (MUST-38) with Nagle (SHLD-7, switchable: MUST-17)."""
        if size >= self.eff_mss:
            return True
        if size == unsent and (
            in_flight == 0 or not self.profile.nagle or self._fin_seq is not None
        ):
            return True
        return self.max_snd_wnd > 0 and size >= self.max_snd_wnd // 2

    def _send_data(self, size: int, unsent: int, sack: tuple[TcpOption, ...], now: int) -> None:
        offset = len(self._send_buf) - unsent
        payload = bytes(self._send_buf[offset : offset + size])
        start = self.snd_nxt
        flags = ACK | (PSH if size == unsent else 0)  # PSH on the last segment (MUST-61)
        if size == unsent and self._fin_seq is not None:
            flags |= FIN
        self._emit(flags, start, payload, options=sack)
        new_end = seq.add(start, size + (1 if flags & FIN else 0))
        if seq.ge(start, self.snd_max) and self._probe is None:
            self._probe = RttProbe(new_end, now)  # time new data only (Karn)
        self._sent_up_to(new_end, now)

    def _sent_up_to(self, end: int, now: int) -> None:
        """SND.NXT (and SND.MAX) move to ``end``; the retransmission timer runs (RFC 6298
        5.1)."""
        self.snd_nxt = end
        if seq.gt(end, self.snd_max):
            self.snd_max = end
        if Timer.RETRANSMISSION not in self.timers:
            self._arm(Timer.RETRANSMISSION, now + self.rtt.rto_us)

    def _send_full_run(
        self, room: int, unsent: int, usable: int, sack: tuple[TcpOption, ...], now: int
    ) -> bool:
        """Bulk data: the full-sized segments the loop in ``_output`` would send one by one
        before its last segment (the one that takes the rest of the buffer carries PSH, and
        maybe FIN), made in one pass; the same segments, for a fraction of the work (nothing
        they depend on changes between them). False (nothing sent) where a segment could
        differ: urgent data, a retransmission that must not be timed, fewer than two."""
        count = min(unsent // room, usable // room)
        if count * room == unsent:
            count -= 1
        if count < 2 or self.snd_up is not None:
            return False
        start = self.snd_nxt
        if self._probe is None:
            if not seq.ge(start, self.snd_max):
                return False  # Karn: which of them is timed is _send_data's business
            self._probe = RttProbe(seq.add(start, room), now)
        window = min(self._advertise() >> self.rcv_wscale, 0xFFFF)
        offset = len(self._send_buf) - unsent
        ack, sport, dport = self.rcv_nxt, self.local_port, self.remote_port
        with memoryview(self._send_buf) as data:
            self._outbox.extend(
                build_segment(
                    sport,
                    dport,
                    (start + i * room) & 0xFFFFFFFF,
                    ack,
                    ACK,
                    window,
                    bytes(data[offset + i * room : offset + (i + 1) * room]),
                    sack,
                    0,
                    0,
                )
                for i in range(count)
            )
        self._ack_sent()
        self._sent_up_to(seq.add(start, count * room), now)
        return True

    def _maybe_send_fin(self, now: int) -> None:
        fin_seq = self._fin_seq
        if fin_seq is None or self.state not in SENDS_AFTER_CLOSE or self.snd_nxt != fin_seq:
            return  # no FIN wanted, or already sent
        self._emit(FIN | ACK, fin_seq)
        self._sent_up_to(seq.add(fin_seq, 1), now)

    # -- receive window and ACKs ----------------------------------------------------------

    def _free_space(self) -> int:
        return max(0, self.profile.rcvbuf - len(self._rcv_buf) - self.ooo.queued_bytes)

    def _advertise(self) -> int:
        """The window to announce, moving the right edge only by useful amounts (MUST-39)
        and never to the left (SHLD-14)."""
        free = self._free_space()
        current = self._rcv_wnd()
        threshold = min(self.profile.rcvbuf // 2, self.profile.mss)
        if free - current >= threshold or (current == 0 and free >= threshold):
            granule = (1 << self.rcv_wscale) - 1
            new_edge = seq.add(self.rcv_nxt, free & ~granule)
            if seq.gt(new_edge, self.rcv_adv):
                self.rcv_adv = new_edge
        return self._rcv_wnd()

    def _window_update_due(self) -> bool:
        """After a read: announce when the right edge can move by min(buffer/2, MSS)."""
        return self._free_space() - self._rcv_wnd() >= min(
            self.profile.rcvbuf // 2, self.profile.mss
        )

    def _sack_option(self) -> tuple[TcpOption, ...]:
        if not self.sack_ok or not self.ooo.blocks_:
            return ()
        return (Sack(tuple(self.ooo.blocks())),)  # RFC 2018 4: newest block first

    def _emit_ack(self) -> None:
        self._emit(ACK, self.snd_nxt, options=self._sack_option())

    def _emit(
        self, flags: int, start: int, payload: bytes = b"", *, options: tuple[TcpOption, ...] = ()
    ) -> None:
        has_ack = bool(flags & ACK)
        if flags & SYN:
            window = min(self._advertise(), 0xFFFF)  # a SYN's window is never scaled
        elif flags & RST and not has_ack:
            window = 0
        else:
            window = min(self._advertise() >> self.rcv_wscale, 0xFFFF)
        urgent = self._urgent_offset(flags, start)
        self._outbox.append(
            build_segment(
                self.local_port,
                self.remote_port,
                start,
                self.rcv_nxt if has_ack else 0,
                flags | (URG if urgent else 0),
                window,
                payload,
                options,
                urgent,
                0,
            )
        )
        if has_ack:
            self._ack_sent()

    def _ack_sent(self) -> None:
        """An ACK left: nothing received waits for one any more."""
        self._unacked_bytes = 0
        self._disarm(Timer.DELAYED_ACK)

    # -- state -----------------------------------------------------------------------------

    def _transition(self, event: Event) -> None:
        self.state = next_state(self.state, event)

    def _reset(self, error: str) -> None:
        self.error = self.error or error
        self._transition(Event.RESET)
        self.timers.clear()


def rst_for_unknown(seg: TcpSegment) -> TcpSegment | None:
    """3.10.7.1: the answer of a CLOSED port (or of no connection) to a segment."""
    if seg.flags & RST:
        return None
    if seg.flags & ACK:
        return TcpSegment(seg.dport, seg.sport, seg.ack, 0, RST, 0)
    return TcpSegment(seg.dport, seg.sport, 0, seq.add(seg.seq, seg.seg_len), RST | ACK, 0)


__all__ = ["TcpConnection", "TcpError", "TransitionError", "rst_for_unknown"]
