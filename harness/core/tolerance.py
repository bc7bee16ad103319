"""The timing tolerance model: an RFC window widened by max(floor, pct x interval), and a
scale for slow machines (--timing-scale) that multiplies every window and every wait.

Two uses, kept apart so that the scale applies once: ``widen`` is the latest time a verdict
accepts (scaled); ``window`` is the same window unscaled, which a peer waits for after
scaling it itself (``wait``), as it scales every harness wait it is given.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    floor_s: float = 0.020
    pct: float = 10.0
    scale: float = 1.0

    def slack(self, interval_s: float) -> float:
        return max(self.floor_s, interval_s * self.pct / 100.0)

    def window(self, interval_s: float) -> float:
        """An RFC window widened by the slack, before the scale (what a test waits for)."""
        return interval_s + self.slack(interval_s)

    def widen(self, interval_s: float) -> float:
        """The latest acceptable time for something the RFC bounds by ``interval_s``."""
        return self.scale * self.window(interval_s)

    def wait(self, seconds: float) -> float:
        """How long a peer waits when asked to wait ``seconds``."""
        return self.scale * seconds
