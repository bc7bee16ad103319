"""The ``icmp`` fixture: one ICMP test's case on the session's host bed (``target``)."""

from __future__ import annotations

import pytest

from harness.core.case import register_case
from harness.core.tolerance import Tolerance
from harness.hosts.bed import TestBed
from harness.icmp.case import IcmpCase


@pytest.fixture
def icmp(request: pytest.FixtureRequest, target: TestBed, tolerance: Tolerance) -> IcmpCase:
    target.ensure_alive()
    case = IcmpCase(target, tolerance)
    case.title = request.node.name
    register_case(request.node, case)
    return case
