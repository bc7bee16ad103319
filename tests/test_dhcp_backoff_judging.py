"""How the DHCP client suite judges a DISCOVER backoff it recorded (suites/dhcp/test_client.py),
fed made-up delays: a client that stops retransmitting early (dhclient gives up after 60 s)
leaves too few delays to judge a random schedule, which is INFO; what one run does decide
(a constant timer, a delay far from 4 s) is decided whatever the number of delays."""

import importlib.util
from pathlib import Path

import pytest

from harness.core.errors import ConformanceFailure, NotObserved
from harness.core.tolerance import Tolerance

SUITE = Path(__file__).resolve().parent.parent / "suites" / "dhcp" / "test_client.py"
spec = importlib.util.spec_from_file_location("dhcp_client_suite", SUITE)
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)


class Delays:
    """The recording's side of a test: its facts, its measurements, its failure."""

    def __init__(self, *gaps: float) -> None:
        self.gaps = list(gaps)

    def fact(self, name):
        assert name == "gaps"
        return self.gaps

    def record(self, what, value):
        pass

    def failure(self, what):
        return ConformanceFailure(what)


BACKOFF = suite.test_retransmission_backoff_is_randomized_and_exponential
SUGGESTED = suite.test_retransmission_delays_are_4_8_16_32_seconds


@pytest.mark.parametrize(
    ("gaps", "outcome"),
    [
        ((6.28, 21.06, 16.30), NotObserved),  # dhclient, gave up: growth not judged
        ((3.03, 3.03, 3.02), ConformanceFailure),  # a constant timer, even from three
        # udhcpc on a busy machine: 3 s and a 20 s pause, each late by tens of ms; no two
        # neighbours but several pairs agree
        ((3.02, 3.04, 23.07, 3.02, 3.04, 23.06, 3.03, 3.03), ConformanceFailure),
        # randomized by +-1 s around a constant: one pair agreeing by chance is not a timer
        ((3.61, 2.44, 3.63, 2.97, 2.21, 3.85), NotObserved),
        ((4.2, 7.6, 16.9, 31.0), None),
        ((4.9, 9.1, 15.2, 31.8, 21.0), None),  # the RFC's schedule, then the watch ends
        # dhclient, capped at 7.5-22.5 s: INFO every run, whatever its draws (these were a
        # PASS in one run and INFO in the next under the earlier "3+4 over 1+2" rule)
        ((8.21, 16.65, 18.76, 9.35), NotObserved),
        ((7.81, 17.69, 8.30, 10.99, 9.96), NotObserved),
        ((8.0, 16.1, 21.9, 22.4), NotObserved),
        ((30.1, 31.4, 29.0, 33.2), NotObserved),  # long but not growing
    ],
)
def test_backoff_judges_what_the_delays_decide(gaps, outcome):
    if outcome is None:
        BACKOFF(Delays(*gaps))
        return
    with pytest.raises(outcome):
        BACKOFF(Delays(*gaps))


@pytest.mark.parametrize(
    ("gaps", "outcome"),
    [
        ((6.28, 21.06, 16.30), ConformanceFailure),  # the first delay decides: WARN
        ((4.1, 8.3, 15.7), NotObserved),  # right so far, but three delays match by luck
        ((4.1, 8.3, 15.7, 32.4), None),
    ],
)
def test_suggested_delays_are_judged_from_any_delay_that_misses(gaps, outcome):
    if outcome is None:
        SUGGESTED(Delays(*gaps), Tolerance())
        return
    with pytest.raises(outcome):
        SUGGESTED(Delays(*gaps), Tolerance())
