"""The exceptions that carry a verdict class (README, "Verdicts").

ConformanceFailure is an AssertionError so that pytest and Allure report it as a test
failure (FAIL, or WARN for a SHOULD); every other HarnessError is a harness or environment
problem, which Allure shows as "broken" (ERROR).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class HarnessError(Exception):
    """Harness or environment problem: the verdict is ERROR, never FAIL."""


class SetupError(HarnessError):
    """The machine cannot run the harness (not root, missing tool); one line for the user."""


class TopologyError(HarnessError):
    """A namespace, link or sysctl could not be created or set."""


class TargetError(HarnessError):
    """The target process died, hung, or broke the control protocol."""


class ScenarioNotReached(HarnessError):
    """The test could not bring the target into the situation its requirement is about (the
    handshake never completed, the window never closed, the writes were coalesced). The
    verdict is ERROR: nothing is claimed about the requirement, whatever the target did."""

    def __init__(self, scenario: str, why: str) -> None:
        super().__init__(f"scenario not reached: {scenario}: {why}")
        self.scenario, self.why = scenario, why


class NotObserved(Exception):
    """What the check is about never appeared on the wire, and the RFC lets it be absent
    (a client that sends no RELEASE). The verdict is INFO: the test passes with a note, and
    no claim is made about a packet that was not sent."""


class Unsupported(Exception):
    """The target lacks an operation or feature the test needs: the verdict is UNSUPPORTED."""


class ConformanceFailure(AssertionError):
    """The target did something the requirement under test forbids."""


@contextlib.contextmanager
def precondition(
    scenario: str, *also: type[Exception], judged: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """Steps that build a test's scenario. A deviation there is judged by the tests of those
    steps, not by this one: here it ends the test as ERROR "scenario not reached", never as
    a PASS, WARN or FAIL of the requirement under test. ``also``: more exceptions that mean
    the scenario could not be built (a control-protocol error, say); ``judged``: failures
    that are the test's own subject even in these steps, and pass through."""
    caught: tuple[type[Exception], ...] = (ConformanceFailure, *also)
    try:
        yield
    except judged:
        raise
    except caught as exc:
        raise ScenarioNotReached(scenario, str(exc)) from None
