"""The ``tcp`` fixture: one TCP test's case on the session's host bed (harness.hosts)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.core.case import for_the_test
from harness.core.tolerance import Tolerance
from harness.hosts.bed import TestBed
from harness.tcp.case import TcpCase


@pytest.fixture
def tcp(request: pytest.FixtureRequest, target: TestBed, tolerance: Tolerance) -> Iterator[TcpCase]:
    """One test's TCP context. Its capture and control transcript are attached to the
    test when its body ends; teardown resets what is left."""
    target.ensure_alive()
    profile = request.config.getoption("profile")
    yield from for_the_test(request, TcpCase(target, profile=profile, tolerance=tolerance))


@pytest.fixture
def lossy_tcp(
    request: pytest.FixtureRequest, lossy_target: TestBed, tolerance: Tolerance
) -> Iterator[TcpCase]:
    """A TCP test's context on the bed whose link loses the tester's ACKs (the impairment
    relay, harness.hosts.fixtures.LOSSY_LINK)."""
    lossy_target.ensure_alive()
    profile = request.config.getoption("profile")
    yield from for_the_test(request, TcpCase(lossy_target, profile=profile, tolerance=tolerance))
