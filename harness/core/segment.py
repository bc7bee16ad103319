"""The vocabulary of what was seen on the wire, shared by the peers that see it and the report
that draws it: a TCP segment in relative sequence numbers, and a note on an exchange.

Flags are the reference's integer constants (``SYN | ACK``) and options its objects
(``Mss(1460)``), the same words a test writer uses to send (harness.tcp.peer.TcpPeer.send).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from reference_impl.wire.tcp import (
    ACK,
    ECN_FLAGS,
    FIN,
    RESERVED,
    SYN,
    TcpOption,
    flags_text,
)

# ECE, CWR and AE (RFC 3168, RFC 9768) and the reserved bits are set by ECN-capable stacks on
# segments whose other flags any check is about (an ECN-setup SYN is SYN|ECE|CWR). RFC 9293
# 3.1 says a receiver ignores the reserved bits; a check compares them only when it names them.
NOT_JUDGED_UNLESS_NAMED = ECN_FLAGS | RESERVED
OptionT = TypeVar("OptionT")


def judged_flags(flags: int, named: Iterable[int] = ()) -> int:
    """``flags`` without the ECN and reserved bits, unless one of ``named`` sets them."""
    keep = 0
    for want in named:
        keep |= want
    return flags & ~(NOT_JUDGED_UNLESS_NAMED & ~keep)


def option_text(option: TcpOption) -> str:
    """``Mss 1460``, ``WindowScale 7``, ``SackPermitted``: the option's class and its values."""
    fields = getattr(option, "__dataclass_fields__", {})
    values = " ".join(str(getattr(option, name)) for name in fields)
    return f"{type(option).__name__} {values}".strip()


@dataclass(frozen=True, slots=True)
class Segment:
    """A TCP segment of the connection under test, in relative sequence numbers."""

    ts_ns: int
    from_tester: bool
    flags: int
    seq: int
    ack: int
    window: int
    payload: bytes
    options: tuple[TcpOption, ...] = ()
    urgent: int = 0  # the urgent pointer's offset from seq (meaningful with URG)

    @property
    def length(self) -> int:
        return len(self.payload)

    @property
    def seq_space(self) -> int:
        """Sequence numbers the segment occupies: data plus one each for SYN and FIN."""
        return len(self.payload) + bool(self.flags & SYN) + bool(self.flags & FIN)

    @property
    def flag_letters(self) -> str:
        """``SA``, ``FA``, ``.`` for none (as tcpdump and the RFC's examples write them)."""
        return flags_text(self.flags)

    def has(self, flags: int) -> bool:
        """Whether every flag in ``flags`` is set."""
        return self.flags & flags == flags

    def option(self, kind: type[OptionT]) -> OptionT | None:
        """The first option of a kind (``seg.option(Mss)``), or None."""
        return next((o for o in self.options if isinstance(o, kind)), None)

    def describe(self) -> str:
        who = "tester" if self.from_tester else "target"
        ack = f" ack={self.ack}" if self.flags & ACK else ""
        opts = f" <{','.join(option_text(o) for o in self.options)}>" if self.options else ""
        fields = f"seq={self.seq}{ack} win={self.window} len={self.length}"
        return f"{who} [{self.flag_letters}] {fields}{opts}"


@dataclass(frozen=True)
class Note:
    """A segment expected but never seen (``missing``) or one that broke an expectation
    (``unexpected``), at a kernel timestamp."""

    kind: str
    ts_ns: int
    text: str
