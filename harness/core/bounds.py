"""The time limits the RFCs set, named once, each with its source and level.

Suites and the oracle take their windows from here; a check widens a bound with the run's
tolerance (``Tolerance.widen``) and reports every measured time against each bound it was
judged by (``describe``), so that a reader sees "4.1 ms: SHOULD at once (met), MUST under
500 ms (met)" rather than a bare pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.tolerance import Tolerance


@dataclass(frozen=True)
class Bound:
    seconds: float
    level: str  # the keyword's level: MUST or SHOULD
    source: str  # where the RFC says it
    text: str  # in our words

    def met(self, measured_s: float, tolerance: Tolerance) -> bool:
        return measured_s <= tolerance.widen(self.seconds)

    def describe(self, measured_s: float, tolerance: Tolerance) -> str:
        verdict = "met" if self.met(measured_s, tolerance) else "NOT met"
        return f"{self.level} {self.text} ({self.source}): {verdict}"


def _duration(seconds: float) -> str:
    """Milliseconds for what a TCP check times, seconds for a DHCP client's timers."""
    return f"{seconds:.3f} s" if seconds >= 10 else f"{seconds * 1000:.3f} ms"


def describe(what: str, measured_s: float, tolerance: Tolerance, *bounds: Bound) -> str:
    """One line of the report's "measured" attachment."""
    line = f"{what}: {_duration(measured_s)}"
    if bounds:
        line += " - " + "; ".join(b.describe(measured_s, tolerance) for b in bounds)
    return line


# -- TCP --------------------------------------------------------------------------------------
DELAYED_ACK = Bound(0.5, "MUST", "RFC 9293 3.8.6.3 MUST-40", "an ACK comes in under 500 ms")
IMMEDIATE_ACK = Bound(
    0.0, "SHOULD", "RFC 5681 4.2", "an out-of-order or gap-filling segment is ACKed at once"
)
FULL_SEGMENTS_ACK = Bound(
    0.0, "SHOULD", "RFC 9293 3.8.6.3 SHLD-19", "every second full-sized segment is ACKed at once"
)
INITIAL_RTO = Bound(1.0, "SHOULD", "RFC 6298 2.1", "the first retransmission after 1 s")
# RFC 6298 2.1 lets a stack keep RFC 1122's 3 s initial RTO when it cannot do better (and
# after a SYN timeout); no stack may wait longer than this for its first retransmission.
OLD_INITIAL_RTO = Bound(3.0, "MUST", "RFC 6298 2.1 / RFC 1122", "the first retransmission by 3 s")
FAST_RETRANSMIT = Bound(
    0.0, "SHOULD", "RFC 5681 3.2", "the third duplicate ACK draws the retransmission at once"
)
# After a close the rest of the data and the FIN follow without a stall: a sender that is
# silent for two 3 s initial RTOs, with nothing of its own unacknowledged, has dropped them.
CLOSE_STALL = Bound(
    2 * OLD_INITIAL_RTO.seconds,
    "MUST",
    "RFC 9293 3.10.4",
    "the data written before a close and then the FIN are sent (no silence of 6 s)",
)
ZERO_WINDOW_PROBE = Bound(
    60.0, "MUST", "RFC 9293 3.8.6.1 MUST-35", "probing a zero window goes on (gaps under 60 s)"
)

# -- how long the harness waits: patience for slow stacks, not RFC bounds -----------------------
PROMPT_S = 1.0  # for what the RFC says comes at once: a FIN after CLOSE, an RST, a challenge ACK
HANDSHAKE_S = 2.0  # for a SYN or SYN-ACK of a connection the target opens
QUIET_S = 0.3  # silence this long counts as "nothing answered"
SETTLE_S = 0.05  # for a target's immediate answers to arrive before the next step

# -- DHCP -------------------------------------------------------------------------------------
FIRST_DISCOVER = Bound(10.0, "SHOULD", "RFC 2131 4.4.1", "the first DISCOVER within 10 s")
DECLINE_WAIT = Bound(10.0, "SHOULD", "RFC 2131 3.1 step 5", "ten seconds after a DECLINE")
