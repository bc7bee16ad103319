"""Congestion control: slow start and congestion avoidance (RFC 5681), fast retransmit and
NewReno fast recovery (RFC 6582). The connection calls the ``on_*`` hooks; this class only
keeps cwnd, ssthresh and the recovery point."""

from __future__ import annotations

from dataclasses import dataclass

from reference_impl.tcp import seq


@dataclass
class NewReno:
    smss: int
    cwnd: int
    ssthresh: int = 1 << 30  # 3.1: arbitrarily high at first
    in_recovery: bool = False
    recover: int = 0  # RFC 6582: the highest sequence sent when recovery began
    bytes_acked: int = 0  # congestion-avoidance byte counting (3.1, RFC 3465 style)

    @classmethod
    def initial(cls, smss: int, iw_segments: int) -> NewReno:
        return cls(smss=smss, cwnd=iw_segments * smss)

    def on_new_ack(self, acked: int) -> None:
        """Cumulative ACK of ``acked`` new bytes outside recovery: grow cwnd (3.1)."""
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, self.smss)  # slow start, at most one SMSS per ACK
            return
        self.bytes_acked += acked
        if self.bytes_acked >= self.cwnd:  # congestion avoidance: one SMSS per RTT
            self.bytes_acked -= self.cwnd
            self.cwnd += self.smss

    def halve(self, flight: int) -> None:
        """(4): ssthresh = max(FlightSize / 2, 2 * SMSS) — the multiplicative decrease."""
        self.ssthresh = max(flight // 2, 2 * self.smss)

    def on_enter_recovery(self, flight: int, snd_max: int) -> None:
        """Third duplicate ACK (3.2 steps 2-3, RFC 6582 3.2 step 2)."""
        self.halve(flight)
        self.cwnd = self.ssthresh + 3 * self.smss
        self.in_recovery, self.recover = True, snd_max
        self.bytes_acked = 0

    def on_dupack_in_recovery(self) -> None:
        """(4): inflate by one SMSS for each further duplicate ACK."""
        self.cwnd += self.smss

    def is_full_ack(self, ack: int) -> bool:
        return seq.gt(ack, self.recover) or ack == self.recover

    def on_full_ack(self, flight: int) -> None:
        """RFC 6582 3.2 step 3: leave recovery, deflate to min(ssthresh, FlightSize + SMSS)."""
        self.cwnd = min(self.ssthresh, max(flight, self.smss) + self.smss)
        self.in_recovery = False

    def on_partial_ack(self, acked: int) -> None:
        """RFC 6582 3.2 step 3: deflate by the amount acked, add back one SMSS."""
        self.cwnd = max(self.cwnd - acked + self.smss, self.smss)

    def on_timeout(self, flight: int) -> None:
        """(4) then 3.1: one segment (the loss window) after a retransmission timeout."""
        self.halve(flight)
        self.cwnd = self.smss
        self.in_recovery = False
        self.bytes_acked = 0
