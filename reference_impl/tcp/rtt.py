"""Retransmission timeout per RFC 6298: SRTT, RTTVAR, RTO, backoff, and Karn's rule."""

from __future__ import annotations

from dataclasses import dataclass

K = 4
ALPHA_SHIFT = 3  # alpha = 1/8
BETA_SHIFT = 2  # beta = 1/4


@dataclass
class RttEstimator:
    initial_rto_us: int
    min_rto_us: int
    max_rto_us: int
    granularity_us: int
    srtt_us: int | None = None
    rttvar_us: int = 0
    rto_us: int = 0
    backoff: int = 0  # how many times the timer has doubled since the last new sample

    def __post_init__(self) -> None:
        self.rto_us = self.initial_rto_us  # 2.1: 1 second before any measurement

    def on_sample(self, rtt_us: int) -> None:
        """2.2 / 2.3: fold in a measurement (never from a retransmitted segment: Karn)."""
        rtt_us = max(rtt_us, 0)
        if self.srtt_us is None:
            self.srtt_us, self.rttvar_us = rtt_us, rtt_us // 2
        else:
            self.rttvar_us += (abs(self.srtt_us - rtt_us) - self.rttvar_us) >> BETA_SHIFT
            self.srtt_us += (rtt_us - self.srtt_us) >> ALPHA_SHIFT
        self.backoff = 0
        self.rto_us = self._bounded(self.srtt_us + max(self.granularity_us, K * self.rttvar_us))

    def on_timeout(self) -> None:
        """5.5: back the timer off (double it), up to the maximum."""
        self.backoff += 1
        self.rto_us = self._bounded(self.rto_us * 2)

    def _bounded(self, rto_us: int) -> int:
        # 2.4: never below the minimum (1 s in the RFC); 2.5: a maximum of at least 60 s.
        return min(max(rto_us, self.min_rto_us), self.max_rto_us)
