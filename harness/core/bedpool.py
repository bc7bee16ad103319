"""The beds of a session, kept by target: a bed is made the first time a test asks for its
target and closed at the end of the session, whatever order the tests come in.

pytest would close a session-scoped, parametrized bed whenever the next test wants another
target, and make it again later: harmless in file order, but a parallel run hands each worker
tests of every target in turn (longest first), and a bed costs namespaces and a target start.
A test that leaves state in the target's host that later tests would see (a learnt path MTU)
retires its bed; the next test of that target gets a new one. A bed that could not be made is
remembered too: every test of that target gets the same
error at once instead of waiting for its own failed start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from typing import TypeVar

from harness.core.bed import Bed
from harness.core.errors import HarnessError

B = TypeVar("B", bound=Bed)


class BedPool:
    def __init__(self) -> None:
        self._beds: dict[Hashable, Bed] = {}
        self._failures: dict[Hashable, BaseException] = {}

    def get(self, key: Hashable, make: Callable[[], B]) -> B:
        """The bed for ``key``, made by ``make`` the first time."""
        if key in self._failures:
            raise self._failures[key]
        retired = self._beds.get(key)
        if retired is not None and retired.retired:
            del self._beds[key]
            with contextlib.suppress(HarnessError, OSError):
                retired.close()
        if key not in self._beds:
            try:
                self._beds[key] = make()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # pytest's own failures are BaseExceptions too
                self._failures[key] = exc
                raise
        return self._beds[key]  # type: ignore[return-value]

    def close(self) -> None:
        """Close every bed, the last made first."""
        for bed in reversed(list(self._beds.values())):
            with contextlib.suppress(HarnessError, OSError):
                bed.close()
        self._beds.clear()
