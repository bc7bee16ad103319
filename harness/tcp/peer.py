"""The test-side TCP peer: builds segments with the reference codec, sends them, expects the
target's answers.

Tests speak in relative sequence numbers, as RFC 9293's examples do: the tester's SYN is
at 0 and its first data byte at 1; the target's numbers are relative to its own ISN. Flags
are the reference's constants (``SYN | ACK``) and options its objects (``Mss(1460)``), both
when sending and when checking. Every expectation has a deadline and fails with a message
showing what was expected and what the target actually sent, with kernel-measured times.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.core.bounds import DELAYED_ACK, PROMPT_S, Bound
from harness.core.clock import now_us, receive_until, wall_ns
from harness.core.errors import ConformanceFailure, HarnessError
from harness.core.frames import decode_frame
from harness.core.link import Frame, Link
from harness.core.segment import Note, Segment, judged_flags
from harness.core.tolerance import Tolerance
from harness.tcp.oracle import Oracle, Prediction
from reference_impl.tcp.seq import absolute, relative
from reference_impl.wire.checksum import transport_checksum
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4, ip_to_bytes
from reference_impl.wire.tcp import (
    ACK,
    PSH,
    RST,
    SYN,
    Mss,
    TcpOption,
    TcpSegment,
    flags_text,
)

Flags = int | Iterable[int]


class MalformedFrame(ConformanceFailure):
    """The target sent a frame that does not parse or whose checksum does not verify. Always
    a FAIL: the sender generates every checksum (RFC 9293 MUST-2) and well-formed headers
    (RFC 791 3.1), whatever the level of the requirement the test is about."""

    level = "MUST"

    def __init__(self, malformed: str) -> None:
        super().__init__(
            f"the target sent a frame the checks cannot use: {malformed}. A sender generates "
            "every checksum (RFC 9293 MUST-2) and a well-formed IPv4 header (RFC 791 3.1)."
        )


def _pure_ack(seg: TcpSegment) -> bool:
    return not seg.payload and not seg.flags & ~ACK


class ExpectationTimeout(ConformanceFailure):
    """Nothing that matched came before the deadline (as opposed to a wrong segment)."""


def _alternatives(flags: Flags | None) -> tuple[int, ...] | None:
    """``SYN | ACK`` or ``(RST, RST | ACK)``: the flag sets a test accepts."""
    if flags is None:
        return None
    return (flags,) if isinstance(flags, int) else tuple(flags)


@dataclass(frozen=True)
class Expected:
    """What a test waits for from the target; None means 'any value'."""

    flags: tuple[int, ...] | None = None
    seq: int | None = None
    ack: int | None = None
    length: int | None = None

    def mismatches(self, seg: Segment) -> list[str]:
        wrong = []
        if self.flags is not None and judged_flags(seg.flags, self.flags) not in self.flags:
            wrong.append(f"flags {seg.flag_letters} (want {self._flags_text()})")
        for name in ("seq", "ack", "length"):
            want = getattr(self, name)
            if want is not None and getattr(seg, name) != want:
                wrong.append(f"{name} {getattr(seg, name)} (want {want})")
        return wrong

    def _flags_text(self) -> str:
        return " or ".join(flags_text(f) for f in self.flags or ())

    def describe(self) -> str:
        parts = [f"[{self._flags_text()}]"] if self.flags is not None else []
        parts += [
            f"{n}={getattr(self, n)}"
            for n in ("seq", "ack", "length")
            if getattr(self, n) is not None
        ]
        return " ".join(parts) or "any segment"


@dataclass
class Observation:
    """A matched expectation: the segment and how long after our last segment it came."""

    segment: Segment
    delay_s: float


@dataclass
class TcpPeer:
    """One TCP connection between the tester and the target, seen from the tester's side."""

    link: Link
    tester_mac: str
    tester_ip: str
    tester_port: int
    target_mac: str
    target_ip: str
    target_port: int
    iss: int = field(default_factory=lambda: random.getrandbits(32))
    window: int = 65535
    irs: int | None = None  # the target's ISN, learned from its SYN
    snd_nxt: int = 0  # relative to iss
    rcv_nxt: int = 0  # relative to irs: what the tester acknowledges by default
    target_acked: int = 0  # highest ACK the target sent (relative to iss): its RCV.NXT
    segments: list[Segment] = field(default_factory=list)  # the connection, both directions
    oracle: Oracle | None = None
    tolerance: Tolerance = field(default_factory=Tolerance)
    notes: list[Note] = field(default_factory=list)  # what the checks found, for the ladder
    target_syn: Segment | None = None  # the target's SYN or SYN-ACK, with its options
    info: list[str] = field(default_factory=list)  # INFO: allowed behaviour the profile missed
    _tester_syn: TcpSegment | None = None

    # -- sending ---------------------------------------------------------------------------

    def send(
        self,
        data: bytes = b"",
        *,
        flags: int = PSH | ACK,
        seq: int | None = None,
        ack: int | None = None,
        window: int | None = None,
        options: Iterable[TcpOption] = (),
        corrupt_checksum: bool = False,
        ip_options: bytes = b"",
    ) -> None:
        """Send one segment; ``seq`` and ``ack`` are relative, defaulting to SND.NXT/RCV.NXT.
        With ``corrupt_checksum`` the TCP checksum is deliberately wrong (the oracle is not
        told: a conforming target must act as if the segment never came); ``ip_options``
        go in the IP header (a multiple of 4 bytes)."""
        seq = self.snd_nxt if seq is None else seq
        if ack is None:
            ack = self.rcv_nxt if flags & ACK else 0
        ack_abs = absolute(ack, self.irs) if (flags & ACK and self.irs is not None) else 0
        segment = TcpSegment(
            self.tester_port,
            self.target_port,
            absolute(seq, self.iss),
            ack_abs,
            flags,
            self.window if window is None else window,
            data,
            tuple(options),
        )
        self.send_datagram(
            PROTO_TCP, self._tcp_bytes(segment, corrupt_checksum), ip_options=ip_options
        )
        if corrupt_checksum:
            return  # neither SND.NXT nor the oracle moves: the target must ignore it
        self._tell_oracle(segment)
        self.snd_nxt = max(self.snd_nxt, seq + segment.seg_len)

    def send_raw_options(self, raw: bytes, *, flags: int = SYN, seq: int = 0) -> None:
        """One segment whose options are the bytes ``raw`` as given (an illegal length, say),
        padded with zeros to a 32-bit boundary. Neither SND.NXT nor the oracle moves: what a
        target makes of such a segment is the test's question, not the reference's."""
        ack = absolute(self.rcv_nxt, self.irs) if flags & ACK and self.irs is not None else 0
        plain = TcpSegment(
            self.tester_port, self.target_port, absolute(seq, self.iss), ack, flags, self.window
        ).emit(self.tester_ip, self.target_ip)
        raw += bytes(-len(raw) % 4)
        header = bytearray(plain[:20] + raw)
        header[12] = (len(header) // 4) << 4 | (header[12] & 0x0F)
        header[16:18] = bytes(2)
        checksum = transport_checksum(
            ip_to_bytes(self.tester_ip), ip_to_bytes(self.target_ip), PROTO_TCP, bytes(header)
        )
        header[16:18] = checksum.to_bytes(2, "big")
        self.send_datagram(PROTO_TCP, bytes(header))

    def send_datagram(
        self,
        proto: int,
        payload: bytes,
        *,
        src: str | None = None,
        dst: str | None = None,
        dst_mac: str | None = None,
        ip_options: bytes = b"",
    ) -> None:
        """An IPv4 datagram (DF, TTL 64) to the target, outside the connection's bookkeeping:
        from the tester's address to the target's unless told otherwise (a forged source, a
        broadcast destination, an ICMP error about the target's segment)."""
        packet = IPv4(
            src or self.tester_ip, dst or self.target_ip, proto, payload, options=ip_options
        ).emit()
        frame = Ethernet(dst_mac or self.target_mac, self.tester_mac, ETH_P_IP, packet)
        self.link.send(frame.emit())

    def _tcp_bytes(self, segment: TcpSegment, corrupt_checksum: bool) -> bytes:
        """The segment as sent, its checksum spoilt on request."""
        tcp = bytearray(segment.emit(self.tester_ip, self.target_ip))
        if corrupt_checksum:
            tcp[16] ^= 0x5A
            tcp[17] ^= 0x5A
        return bytes(tcp)

    def _tell_oracle(self, seg: TcpSegment) -> None:
        if self.oracle is None:
            return
        if judged_flags(seg.flags) == SYN:
            self._tester_syn = seg
        self.oracle.tester_sent(seg, now_us())

    def send_syn(self, *, mss: int | None = 1460, options: Iterable[TcpOption] = ()) -> None:
        """Our SYN; ``mss=None`` sends no MSS option at all."""
        mss_option = [Mss(mss)] if mss is not None else []
        self.send(flags=SYN, seq=0, options=[*mss_option, *options])

    def connect(
        self,
        *,
        mss: int | None = 1460,
        options: Iterable[TcpOption] = (),
        within: float = 2.0,
    ) -> Segment:
        """Active open from the tester: SYN, expect SYN-ACK acknowledging ISN+1, ACK.
        ``options`` go in the SYN beside MSS, e.g. [WindowScale(2), SackPermitted()]."""
        self.send_syn(mss=mss, options=options)
        synack = self.expect(flags=SYN | ACK, ack=1, within=within, what="SYN-ACK").segment
        self.target_syn = synack
        self.send(flags=ACK)
        return synack

    def accept(
        self, *, mss: int = 1460, options: Iterable[TcpOption] = (), within: float = 3.0
    ) -> Segment:
        """Passive open at the tester: expect the target's SYN, answer SYN-ACK, expect ACK."""
        syn = self.expect(flags=SYN, within=within, what="SYN").segment
        self.target_syn = syn
        self.send(flags=SYN | ACK, seq=0, options=[Mss(mss), *options])
        self.expect(flags=ACK, ack=1, within=within, what="ACK of our SYN-ACK")
        return syn

    def reset(self) -> None:
        """Abort the connection from the tester's side, exactly at the target's RCV.NXT."""
        if self.irs is None:
            return
        self.send(flags=RST | ACK, seq=self.target_acked or self.snd_nxt)

    # -- receiving -------------------------------------------------------------------------

    def expect(
        self,
        *,
        flags: Flags | None = None,
        seq: int | None = None,
        ack: int | None = None,
        length: int | None = None,
        within: float,
        what: str = "",
        skip_others: bool = False,
    ) -> Observation:
        """Wait at most ``within`` seconds for the target's next segment and check it.
        ``flags``: one set (``SYN | ACK``) or alternatives (``(RST, RST | ACK)``).

        With ``skip_others`` the first segment that matches is taken and others are noted;
        without it, the very next segment must match.
        """
        want = Expected(_alternatives(flags), seq, ack, length)
        sent_ts = self._last_sent_ts()
        others: list[str] = []
        within = self.tolerance.wait(within)
        for seg in receive_until(self._next_from_target, within):
            wrong = want.mismatches(seg)
            delay = (seg.ts_ns - sent_ts) / 1e9
            if not wrong:
                self._settle_prediction(seg)
                return Observation(seg, delay)
            line = f"  +{delay * 1000:.1f} ms  {seg.describe()}  -- {', '.join(wrong)}"
            self.notes.append(Note("unexpected", seg.ts_ns, ", ".join(wrong)))
            if not skip_others:
                self.notes.append(Note("missing", seg.ts_ns + 1, want.describe()))
                raise ConformanceFailure(self._failure(what, want, within, [line]))
            others.append(line)
        self.notes.append(Note("missing", sent_ts + int(within * 1e9), want.describe()))
        raise ExpectationTimeout(self._failure(what, want, within, others))

    def target_offered(self, option: type[TcpOption]) -> bool:
        """Whether the target's SYN (or SYN-ACK) carried an option (``WindowScale``, ...)."""
        return self.target_syn is not None and self.target_syn.option(option) is not None

    def collect(
        self, duration: float, *, until: Callable[[Segment], bool] | None = None
    ) -> list[Segment]:
        """Every segment the target sends on this connection within ``duration`` seconds;
        with ``until``, stop early after the first segment for which it is true."""
        seen = []
        for seg in receive_until(self._next_from_target, self.tolerance.wait(duration)):
            seen.append(seg)
            if until is not None and until(seg):
                break
        return seen

    def exchange(self) -> list[Segment]:
        """Both directions of this connection so far (``segments`` holds the target's)."""
        self.link.drain()
        return self.conversation(self.link.captured)

    def segment_of(self, frame: Frame) -> Segment | None:
        """The frame as a segment of this connection in relative numbers (nothing learnt,
        nothing recorded), or None if it is not one."""
        decoded = self._decode(frame)
        return None if decoded is None else self._relative(frame.ts_ns, *decoded)

    def target_frames(self) -> list[Frame]:
        """The frames the target sent on this connection so far, as captured."""
        self.link.drain()
        return [frame for frame in self.link.captured if self._belongs(frame) is False]

    def last_sent_ns(self) -> int:
        """Kernel timestamp of the tester's latest segment on this connection."""
        return self._last_sent_ts()

    def expect_silence(self, duration: float, *, what: str = "") -> None:
        """Fail if the target sends any segment on this connection within ``duration``."""
        sent_ts = self._last_sent_ts()
        duration = self.tolerance.wait(duration)
        seg = self._next_from_target(duration)
        if seg is not None:
            self.notes.append(Note("unexpected", seg.ts_ns, "no segment was expected"))
            delay = (seg.ts_ns - sent_ts) / 1e9
            raise ConformanceFailure(
                f"expected no segment from the target for {duration * 1000:.0f} ms"
                f"{' (' + what + ')' if what else ''}, but at +{delay * 1000:.1f} ms it sent:\n"
                f"  {seg.describe()}"
            )

    def expect_predicted_silence(self, duration: float, *, what: str) -> None:
        """The reference sends nothing within ``duration`` here: neither may the target. (A
        test that expects silence where the reference would answer is wrong: HarnessError.)"""
        if self.oracle is not None:
            due = [p for p in self.oracle.predictions if p.delay_s <= duration]
            if due:
                raise HarnessError(
                    f"the test expects silence ({what}), but the reference sends "
                    f"{due[0].segment.describe()}"
                )
        self.expect_silence(duration, what=what)

    def _failure(self, what: str, want: Expected, within: float, seen: list[str]) -> str:
        label = f"{what}: " if what else ""
        head = f"expected {label}{want.describe()} from the target within {within * 1000:.0f} ms"
        if not seen:
            return head + "; the target sent nothing on this connection"
        return (
            head + "; the target sent instead (times after our last segment):\n" + "\n".join(seen)
        )

    def _next_from_target(self, timeout: float) -> Segment | None:
        for frame in receive_until(self.link.receive, timeout):
            self._refuse_malformed(frame)
            seg = self.parse(frame)
            if seg is not None and not seg.from_tester:
                return seg
        return None

    def _refuse_malformed(self, frame: Frame) -> None:
        """A frame from the target that the checks cannot use ends the test: no later
        verdict could rest on what it may have meant."""
        decoded = decode_frame(frame.data)
        if not decoded.problem or frame.outgoing:
            return
        from_target = (decoded.eth is not None and decoded.eth.src == self.target_mac) or (
            decoded.ip is not None and decoded.ip.src == self.target_ip
        )
        if from_target:
            self.notes.append(Note("unexpected", frame.ts_ns, decoded.malformed))
            raise MalformedFrame(decoded.malformed)

    def _last_sent_ts(self) -> int:
        """Kernel timestamp of the tester's latest frame on this connection."""
        self.link.drain()
        for frame in reversed(self.link.captured):
            if frame.outgoing and self._belongs(frame) is True:
                return frame.ts_ns
        return wall_ns()  # frames carry the kernel's wall-clock timestamps

    def _decode(self, frame: Frame) -> tuple[bool, TcpSegment] | None:
        """(from the tester?, segment) for a well-formed frame of this connection, else None."""
        decoded = decode_frame(frame.data)
        packet, seg = decoded.ip, decoded.tcp
        if decoded.problem or packet is None or seg is None:
            return None
        key = (packet.src, seg.sport, packet.dst, seg.dport)
        if key == (self.tester_ip, self.tester_port, self.target_ip, self.target_port):
            return True, seg
        if key == (self.target_ip, self.target_port, self.tester_ip, self.tester_port):
            return False, seg
        return None

    def _belongs(self, frame: Frame) -> bool | None:
        """True if sent by the tester on this connection, False if by the target, else None."""
        decoded = self._decode(frame)
        return None if decoded is None else decoded[0]

    def parse(self, frame: Frame) -> Segment | None:
        """Turn a frame of this connection into a Segment, learning the target's ISN."""
        decoded = self._decode(frame)
        if decoded is None:
            return None
        from_tester, tcp = decoded
        if not from_tester and tcp.flags & SYN:
            first_syn = self.irs is None or self.irs != tcp.seq
            self.irs = tcp.seq
            if first_syn and self.oracle is not None:
                self.oracle.adopt(tcp, self._tester_syn, now_us())
        if not from_tester and self.irs is None:  # before the target's SYN (an RST to ours)
            self.irs = tcp.seq if not tcp.flags & RST else (tcp.seq - 1) % (1 << 32)
        seg = self._relative(frame.ts_ns, from_tester, tcp)
        self.segments.append(seg)
        if not from_tester:
            self.rcv_nxt = max(self.rcv_nxt, seg.seq + seg.seq_space)
            if tcp.flags & ACK:
                self.target_acked = max(self.target_acked, seg.ack)
        return seg

    def _relative(self, ts_ns: int, from_tester: bool, tcp: TcpSegment) -> Segment:
        """A segment in the connection's relative numbers (no state changes)."""
        if from_tester:
            seq, ack_origin = relative(tcp.seq, self.iss), self.irs
        else:
            seq, ack_origin = relative(tcp.seq, self.irs or 0), self.iss
        ack = relative(tcp.ack, ack_origin) if (tcp.flags & ACK and ack_origin is not None) else 0
        return Segment(
            ts_ns,
            from_tester,
            tcp.flags,
            seq,
            ack,
            tcp.window,
            tcp.payload,
            tcp.options,
            tcp.urgent,
        )

    def conversation(self, frames: Iterable[Frame]) -> list[Segment]:
        """Both directions of this connection among ``frames``, in relative numbers."""
        out = []
        for frame in frames:
            decoded = self._decode(frame)
            if decoded is not None:
                out.append(self._relative(frame.ts_ns, *decoded))
        return out

    # -- the oracle ------------------------------------------------------------------------

    def expect_predicted(
        self,
        *,
        what: str,
        fields: tuple[str, ...] = ("flags", "seq", "ack"),
        skip_others: bool = False,
        bound: Bound | float | None = None,
    ) -> Observation:
        """Wait for the segment the reference says the target must send next, by the latest
        time the profile allows (widened by the tolerance), and compare ``fields``. With
        ``bound`` the reference names the segment and the RFC's bound the time (an ACK the
        RFC lets wait, say, where the reference sends it at once); a number of seconds is the
        harness's patience where no RFC bounds the time (a slow stack's answer)."""
        if self.oracle is None:
            raise HarnessError("expect_predicted needs a peer with an oracle")
        prediction = self.oracle.next_prediction()
        if prediction is None:
            raise HarnessError(f"the reference predicts no segment from the target ({what})")
        want = self._expected_from(prediction)
        within, timing = self._predicted_window(prediction, bound)
        checks: dict[str, Any] = {name: want[name] for name in fields}
        try:
            return self.expect(
                **checks,
                within=within,
                what=f"{what} (the reference sends it {timing})",
                skip_others=skip_others,
            )
        except ExpectationTimeout as exc:
            if bound is not None:
                raise
            return self._missed_prediction(prediction, checks, skip_others, what, timing, exc)

    def _predicted_window(
        self, prediction: Prediction, bound: Bound | float | None
    ) -> tuple[float, str]:
        """How long to wait for a predicted segment, and how the report says it."""
        if isinstance(bound, Bound):
            return self.tolerance.window(bound.seconds), f"{bound.text} ({bound.source})"
        if bound is not None:
            return max(bound, self.tolerance.window(prediction.delay_s)), "at once"
        within = self.tolerance.window(prediction.delay_s)
        if prediction.by_application:
            # The application's call reaches the stack through the control protocol: no RFC
            # times that, so the harness gives it the patience it gives any such answer.
            within = max(within, PROMPT_S)
        if prediction.delay_s == 0:
            return within, "at once"
        return within, f"within {prediction.delay_s * 1000:.0f} ms"

    def _missed_prediction(
        self,
        prediction: Prediction,
        checks: dict[str, Any],
        skip_others: bool,
        what: str,
        timing: str,
        exc: ExpectationTimeout,
    ) -> Observation:
        """A predicted segment that came late. A pure ACK within the MUST-40 bound: INFO, under
        every profile (the RFCs let any ACK wait that long; a check that an ACK comes at once,
        where RFC 5681 asks for it, times it itself). Any other segment the reference sends at
        once: INFO, if it came within the harness's patience."""
        assert self.oracle is not None
        if not _pure_ack(prediction.segment):
            if prediction.delay_s == 0:
                return self._late_answer(checks, skip_others, what, timing)
            raise exc  # a timer's segment (a retransmission, a probe): its time is the check
        late = self._late_ack(prediction, checks, skip_others)
        if late is None:
            raise exc
        self._drop_missing_note()
        self.info.append(
            f"{what}: the {self.oracle.base.name} profile expected it {timing}; it came after "
            f"{late.delay_s * 1000:.1f} ms, which the RFCs allow (a delayed ACK, under "
            f"{DELAYED_ACK.seconds * 1000:.0f} ms). Expected: {exc}".splitlines()[0]
        )
        return late

    def _late_answer(
        self,
        checks: dict[str, Any],
        skip_others: bool,
        what: str,
        timing: str,
    ) -> Observation:
        """A SYN-ACK, data, FIN or RST that the reference sends at once but the target did
        not send within the tolerance: no RFC times it (a stack on a busy machine, or one
        written in a slow language, answers later and is still right about everything the
        test checks), so listen on for the harness's patience (PROMPT_S) and note the delay;
        nothing by then fails as before, naming what came instead."""
        seen = self.expect(
            **checks,
            within=PROMPT_S,
            skip_others=skip_others,
            what=f"{what} (the reference sends it {timing}; waited up to {PROMPT_S * 1000:.0f} ms)",
        )
        self._drop_missing_note()
        self.info.append(
            f"{what}: the reference sends it {timing}; it came after "
            f"{seen.delay_s * 1000:.1f} ms (no RFC bounds how soon)"
        )
        return seen

    def _drop_missing_note(self) -> None:
        """The report marks a segment as missing where it was awaited; one that came late
        after all is not."""
        for i in range(len(self.notes) - 1, -1, -1):
            if self.notes[i].kind == "missing":
                del self.notes[i]
                return

    def _late_ack(
        self, prediction: Prediction, checks: dict[str, Any], skip_others: bool
    ) -> Observation | None:
        """A pure ACK that missed its predicted time: keep listening up to the RFC's bound
        (MUST-40), so that the report gives the real delay. None if it never came."""
        if not checks:
            return None
        try:
            return self.expect(
                **checks,
                within=self.tolerance.window(DELAYED_ACK.seconds)
                - self.tolerance.window(prediction.delay_s),
                skip_others=skip_others,
                what="(late, within the RFC bound)",
            )
        except ConformanceFailure:
            return None

    def _expected_from(self, prediction: Prediction) -> dict[str, Any]:
        seg = prediction.segment
        return {
            "flags": seg.flags,
            "seq": relative(seg.seq, self.irs)
            if prediction.seq_known and self.irs is not None
            else None,
            "ack": relative(seg.ack, self.iss) if seg.flags & ACK else None,
            "length": len(seg.payload),
        }

    def _settle_prediction(self, seg: Segment) -> None:
        """A segment that matches the oracle's next prediction consumes it."""
        if self.oracle is None or (prediction := self.oracle.next_prediction()) is None:
            return
        want = self._expected_from(prediction)
        if (
            want["flags"] == judged_flags(seg.flags)
            and want["seq"] in (None, seg.seq)
            and want["ack"] in (None, seg.ack)
        ):
            self.oracle.consume()
