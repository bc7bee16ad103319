"""Long scenarios: the checks that must wait minutes by the RFC's own numbers (a connection
attempt kept up for 3 minutes, retransmissions given up only after R2), marked ``long``.

They run only with ``--long`` (``netconform run --long``); without it they are deselected and
the summary says how many were left out and how to run them, so that a short run never
looks like it checked them.
"""

from __future__ import annotations

from typing import Any

import pytest

MARKER = "long"


class LongScenarios:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        marks = config.getoption("markexpr") or ""
        self.enabled = bool(config.getoption("long")) or MARKER in marks
        self.left_out: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if self.enabled:
            return
        dropped = [item for item in items if item.get_closest_marker(MARKER) is not None]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item.get_closest_marker(MARKER) is None]
            self.left_out = [item.nodeid for item in dropped]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.left_out and not hasattr(self.config, "workerinput"):
            terminalreporter.write_line(
                f"netconform: {len(self.left_out)} long tests (minutes each) were not run; "
                "add --long to run them"
            )
