"""Sequence numbers as RFC 9293 section 3.4 defines them: 32-bit, compared modulo 2**32."""

from __future__ import annotations

from dataclasses import dataclass

MOD = 1 << 32
HALF = 1 << 31


@dataclass(frozen=True, slots=True)
class SeqNum:
    """A point in sequence space. Differences are plain ints; ordering is modular."""

    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value < MOD:
            object.__setattr__(self, "value", self.value % MOD)

    def __add__(self, n: int) -> SeqNum:
        return SeqNum((self.value + n) % MOD)

    def __sub__(self, n: int) -> SeqNum:
        return SeqNum((self.value - n) % MOD)

    def distance_from(self, other: SeqNum) -> int:
        """Signed distance self - other in (-2**31, 2**31]."""
        d = (self.value - other.value) % MOD
        return d - MOD if d > HALF else d

    def __lt__(self, other: SeqNum) -> bool:
        return self.distance_from(other) < 0

    def __le__(self, other: SeqNum) -> bool:
        return self.distance_from(other) <= 0

    def __gt__(self, other: SeqNum) -> bool:
        return self.distance_from(other) > 0

    def __ge__(self, other: SeqNum) -> bool:
        return self.distance_from(other) >= 0

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"SeqNum({self.value})"


def relative(absolute: int, origin: int) -> int:
    """Offset of an absolute 32-bit sequence number from an origin (an ISN), modulo 2**32."""
    return (absolute - origin) % MOD


def absolute(rel: int, origin: int) -> int:
    """The absolute 32-bit sequence number at an offset from an origin."""
    return (origin + rel) % MOD
