"""The requirement catalogue (requirements.toml beside this file) and test coverage."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.requirements import Requirement

CATALOGUE = Path(__file__).with_name("requirements.toml")


@dataclass(frozen=True)
class Entry:
    rfc: str
    section: str
    level: str
    wire: bool
    summary: str
    id: str | None = None

    @property
    def key(self) -> str:
        return (
            f"RFC {self.rfc} {self.id}"
            if self.id
            else f"RFC {self.rfc} §{self.section} {self.level}"
        )


@cache
def entries() -> tuple[Entry, ...]:
    data = tomllib.loads(CATALOGUE.read_text())
    return tuple(Entry(**item) for item in data["requirement"])


def lookup(req: Requirement) -> Entry:
    """The catalogue entry a marker names; ValueError saying why if there is none."""
    for entry in entries():
        if entry.rfc != req.rfc:
            continue
        if req.req is not None and entry.id == req.req:
            if entry.section != req.section:
                raise ValueError(f"{req.req} is in section {entry.section}, not {req.section}")
            return entry
        if (
            req.req is None
            and entry.id is None
            and (entry.section, entry.level) == (req.section, req.level)
        ):
            return entry
    what = req.req or f"section {req.section} at level {req.level}"
    raise ValueError(f"RFC {req.rfc} {what} is not in the requirement catalogue ({CATALOGUE.name})")


def coverage(suite_paths: list[str]) -> dict[str, list[str]]:
    """Catalogue key -> the suite tests (without parameters) that check it."""
    import contextlib
    import io

    import pytest

    from harness.requirements import requirement_from_marker

    class Collector:
        def __init__(self) -> None:
            self.items: list[pytest.Item] = []

        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            self.items = list(items)

    collector = Collector()
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main(
            ["--collect-only", "-qq", "-p", "no:cacheprovider", *suite_paths], plugins=[collector]
        )
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise ValueError(f"collecting {', '.join(suite_paths)} failed (pytest exit status {code})")
    covered: dict[str, list[str]] = {e.key: [] for e in entries()}
    for item in collector.items:
        for mark in item.iter_markers("rfc"):
            entry = lookup(requirement_from_marker(mark.args, dict(mark.kwargs)))
            name = item.nodeid.split("[")[0]
            if name not in covered[entry.key]:
                covered[entry.key].append(name)
    return covered
