"""The harness's one clock, and its one way of waiting for things with a deadline.

The reference is sans-I/O with time injected in integer microseconds; everything in the
harness that feeds it (the reference host and DHCP drivers, the oracle, the bulk pump) reads
``now_us``, a monotonic clock. Waiting for frames, messages or replies goes through
``receive_until``: a deadline fixed once, each wait given only the time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")


def now_us() -> int:
    """Monotonic time in integer microseconds (the reference's time base)."""
    return time.monotonic_ns() // 1000


def wall_us() -> int:
    """Wall-clock time in microseconds, for what must survive a restart (lease expiry)."""
    return time.time_ns() // 1000


def wall_ns() -> int:
    """Wall-clock time in nanoseconds: the time base of the kernel's frame timestamps."""
    return time.time_ns()


class Deadline:
    """A moment ``seconds`` from now on the monotonic clock."""

    __slots__ = ("at",)

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at


def receive_until(receive: Callable[[float], T | None], seconds: float) -> Iterator[T]:
    """What ``receive(timeout)`` returns, one item at a time, until ``seconds`` have passed
    or it returns None (nothing came in the time left). The caller stops early by breaking."""
    deadline = Deadline(seconds)
    while (remaining := deadline.remaining()) > 0:
        item = receive(remaining)
        if item is None:
            return
        yield item


def poll_until(ready: Callable[[], bool], seconds: float, interval: float = 0.1) -> bool:
    """Ask ``ready()`` every ``interval`` seconds until it says yes (True) or time runs out
    (False): for conditions nothing announces, such as a daemon's socket appearing."""
    deadline = Deadline(seconds)
    while True:
        if ready():
            return True
        if deadline.passed:
            return False
        time.sleep(min(interval, deadline.remaining()))
