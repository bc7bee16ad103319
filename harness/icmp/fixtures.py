"""The ``icmp`` fixture: one ICMP test's case on the session's host bed (``target``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.core.case import for_the_test
from harness.core.tolerance import Tolerance
from harness.hosts.bed import TestBed
from harness.icmp.case import IcmpCase


@pytest.fixture
def icmp(
    request: pytest.FixtureRequest, target: TestBed, tolerance: Tolerance
) -> Iterator[IcmpCase]:
    target.ensure_alive()
    yield from for_the_test(request, IcmpCase(target, tolerance))
