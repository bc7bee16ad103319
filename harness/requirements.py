"""Requirement markers: which RFC requirement a suite test checks, and its level.

``@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")`` names RFC 9293 Appendix B's ID;
requirements without an ID (other RFCs, or 9293 text outside Appendix B) give the level:
``@pytest.mark.rfc("5681", "4.2", level="SHOULD")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("MUST", "SHOULD", "MAY")
_REQ_ID = re.compile(r"^(MUST|SHLD|MAY|REC)-(\d+)$")
_ID_LEVEL = {"MUST": "MUST", "SHLD": "SHOULD", "MAY": "MAY", "REC": "SHOULD"}
SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


@dataclass(frozen=True)
class Requirement:
    rfc: str
    section: str
    req: str | None
    level: str

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/rfc/rfc{self.rfc}#section-{self.section}"

    @property
    def story(self) -> str:
        return self.req or f"§{self.section} {self.level}"

    @property
    def title(self) -> str:
        return f"RFC {self.rfc} §{self.section}" + (
            f" {self.req}" if self.req else f" ({self.level})"
        )

    @property
    def strict(self) -> bool:
        """A broken MUST fails the test; a broken SHOULD or MAY is a WARN unless --strict."""
        return self.level == "MUST"


def requirement_from_marker(args: tuple[object, ...], kwargs: dict[str, object]) -> Requirement:
    """Validate a marker's arguments; raise ValueError naming what is wrong."""
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        raise ValueError(
            "rfc marker needs two strings: RFC number and section, e.g. rfc('9293', '3.4')"
        )
    rfc, section = str(args[0]), str(args[1])
    if not rfc.isdigit():
        raise ValueError(f"RFC number must be digits, got {rfc!r}")
    if not re.fullmatch(r"[0-9A-Z]+(\.[0-9]+)*", section):
        raise ValueError(f"section must look like 3.8.6.3, got {section!r}")
    req, level = kwargs.get("req"), kwargs.get("level")
    unknown = set(kwargs) - {"req", "level"}
    if unknown:
        raise ValueError(f"unknown rfc marker argument(s): {', '.join(sorted(unknown))}")
    if req is not None:
        match = _REQ_ID.match(str(req))
        if not match:
            raise ValueError(f"requirement ID must look like MUST-40 or SHLD-19, got {req!r}")
        implied = _ID_LEVEL[match.group(1)]
        if level is not None and level != implied:
            raise ValueError(f"{req} is a {implied}, not a {level}")
        level = implied
    if level not in LEVELS:
        raise ValueError(f"give req=<Appendix B ID> or level= one of {', '.join(LEVELS)}")
    return Requirement(rfc, section, None if req is None else str(req), str(level))
