"""The timing tolerance model: an RFC window widened by max(floor, pct x interval)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    floor_s: float = 0.020
    pct: float = 10.0

    def slack(self, interval_s: float) -> float:
        return max(self.floor_s, interval_s * self.pct / 100.0)

    def widen(self, interval_s: float) -> float:
        """The latest acceptable time for something the RFC bounds by ``interval_s``."""
        return interval_s + self.slack(interval_s)
