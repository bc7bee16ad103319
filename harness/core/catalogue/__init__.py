"""The requirement catalogue (requirements.toml beside this file) and test coverage."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from harness.core.requirements import KEYWORD_LEVEL, Marker, Requirement, parse_marker

CATALOGUE = Path(__file__).with_name("requirements.toml")


@dataclass(frozen=True)
class Entry:
    rfc: str
    section: str
    level: str
    wire: bool
    summary: str
    id: str | None = None
    keyword: str = ""  # BCP 14 keyword of the sentence; "none"; "" = the level's own word
    why_not_wire: str = ""  # for wire = false: why a peer cannot observe it, and what covers it
    not_tested: str = ""  # for wire = true with no suite test: why, and what checks it instead

    @property
    def key(self) -> str:
        return (
            f"RFC {self.rfc} {self.id}"
            if self.id
            else f"RFC {self.rfc} §{self.section} {self.level}"
        )

    @property
    def sentence_keyword(self) -> str:
        return self.keyword or self.level

    def requirement(self) -> Requirement:
        return Requirement(
            self.rfc,
            self.section,
            self.id,
            self.level,
            self.sentence_keyword,
            self.summary,
            self.key,
        )


def catalogue_files() -> list[Path]:
    """The main catalogue and any protocol package's own (harness/icmp/requirements.toml)."""
    return [CATALOGUE, *sorted(Path(__file__).parents[2].glob("*/requirements.toml"))]


@cache
def entries() -> tuple[Entry, ...]:
    found: list[Entry] = []
    for path in catalogue_files():
        data = tomllib.loads(path.read_text())
        found += [Entry(**item) for item in data["requirement"]]
    return tuple(found)


def lookup(marker: Marker) -> Entry:
    """The catalogue entry a marker names; ValueError saying why if there is none."""
    for entry in entries():
        if entry.rfc != marker.rfc:
            continue
        if marker.req is not None and entry.id == marker.req:
            if entry.section != marker.section:
                raise ValueError(
                    f"{marker.req} is in section {entry.section}, not {marker.section}"
                )
            if marker.level is not None and marker.level != entry.level:
                raise ValueError(f"{marker.req} is a {entry.level}, not a {marker.level}")
            return entry
        if (
            marker.req is None
            and entry.id is None
            and (entry.section, entry.level) == (marker.section, marker.level)
        ):
            return entry
    what = marker.req or f"section {marker.section} at level {marker.level}"
    raise ValueError(
        f"RFC {marker.rfc} {what} is not in the requirement catalogue ({CATALOGUE.name})"
    )


def requirement(args: tuple[object, ...], kwargs: dict[str, object]) -> Requirement:
    """The requirement an ``rfc`` marker names, with its level and keyword from the catalogue."""
    return lookup(parse_marker(args, kwargs)).requirement()


def inconsistent_levels() -> list[str]:
    """Entries whose level does not follow from their sentence's keyword."""
    return [
        f"{e.key}: keyword {e.sentence_keyword!r} but level {e.level}"
        for e in entries()
        if KEYWORD_LEVEL.get(e.sentence_keyword) != e.level
    ]


def coverage(suite_paths: list[str]) -> dict[str, list[str]]:
    """Catalogue key -> the suite tests (without parameters) that check it."""
    import contextlib
    import io

    import pytest

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
            entry = lookup(parse_marker(mark.args, dict(mark.kwargs)))
            name = item.nodeid.split("[")[0]
            if name not in covered[entry.key]:
                covered[entry.key].append(name)
    return covered
