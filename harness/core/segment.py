"""What the checks found about an exchange, kept for the ladder diagram."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    """A segment expected but never seen (``missing``) or one that broke an expectation
    (``unexpected``), at a kernel timestamp."""

    kind: str
    ts_ns: int
    text: str
