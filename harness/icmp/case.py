"""One ICMP test on a host bed: a peer that pings the target, and the messages as evidence."""

from __future__ import annotations

from harness.core.case import Case, Evidence
from harness.core.tolerance import Tolerance
from harness.hosts.bed import TestBed
from harness.icmp.peer import IcmpPeer


class IcmpCase(Case):
    bed: TestBed

    def __init__(self, bed: TestBed, tolerance: Tolerance | None = None) -> None:
        super().__init__(bed, tolerance)
        topo = bed.topology
        self.peer = IcmpPeer(
            bed.link, topo.tester.mac, topo.tester.ip, topo.target.mac, topo.target.ip
        )
        self.peer.scale = self.tolerance.scale

    def add_evidence(self, found: Evidence) -> None:
        found.transcript = self.peer.transcript()
        found.transcript_name = "ICMP messages"
