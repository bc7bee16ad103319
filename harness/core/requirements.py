"""Requirement markers: which RFC requirement a suite test checks, and its level.

``@pytest.mark.rfc("9293", "3.8.6.3", req="MUST-40")`` names RFC 9293 Appendix B's ID; a rule
Appendix B does not number (RFC 9293's event processing, other RFCs) is named by the
catalogue's own ID (``req="rst-resets"``, ``req="renew-omits-server-id"``) or,
for the broad ones without an ID, by section and level
(``@pytest.mark.rfc("5681", "4.2", level="SHOULD")``).

The level of a check comes from the BCP 14 keyword of the sentence it rests on (RFC 2119):
MUST, MUST NOT, REQUIRED, SHALL -> MUST (a deviation FAILs); SHOULD, SHOULD NOT, RECOMMENDED
-> SHOULD (WARN); MAY, OPTIONAL -> MAY. A sentence without a keyword gives at most a WARN, and
the report says that it was stated without one.

One kind of text has no keyword and is still not advice: the protocol's own definition, such
as RFC 9293's sequence-number rules (3.4) and event processing (3.10), where the RFC states
the one procedure every TCP follows to interoperate (an ACK of S + L, a FIN that takes one
sequence number). Catalogue entries resting on it say ``keyword = "definition"`` and give
FAIL; the report names that basis. Advisory prose (RFC 2131's "the client moves to RENEWING
and sends ...") is ``keyword = "none"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("MUST", "SHOULD", "MAY")
NO_KEYWORD = "none"
DEFINITION = "definition"
KEYWORD_LEVEL = {
    "MUST": "MUST",
    "MUST NOT": "MUST",
    "REQUIRED": "MUST",
    "SHALL": "MUST",
    "SHALL NOT": "MUST",
    "SHOULD": "SHOULD",
    "SHOULD NOT": "SHOULD",
    "RECOMMENDED": "SHOULD",
    "NOT RECOMMENDED": "SHOULD",
    "MAY": "MAY",
    "OPTIONAL": "MAY",
    NO_KEYWORD: "SHOULD",  # at most a WARN
    DEFINITION: "MUST",
}
_APPENDIX_B_ID = re.compile(r"^(MUST|SHLD|MAY|REC)-(\d+)$")
_CATALOGUE_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ID_LEVEL = {"MUST": "MUST", "SHLD": "SHOULD", "MAY": "MAY", "REC": "SHOULD"}
SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


@dataclass(frozen=True)
class Marker:
    """What an ``rfc`` marker says, checked for form (the catalogue checks the content)."""

    rfc: str
    section: str
    req: str | None
    level: str | None  # None: the catalogue entry's level


@dataclass(frozen=True)
class Requirement:
    rfc: str
    section: str
    req: str | None
    level: str
    keyword: str = ""  # the sentence's BCP 14 keyword, NO_KEYWORD when it has none
    summary: str = ""
    key: str = ""  # the catalogue's key, e.g. "RFC 9293 MUST-40"

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
    def keywordless(self) -> bool:
        return self.keyword == NO_KEYWORD

    @property
    def basis(self) -> str:
        """How the level was reached, for the report: the keyword, or that there is none."""
        if self.keywordless:
            return "stated without a BCP 14 keyword, so at most a WARN"
        if self.keyword == DEFINITION:
            return f"the protocol's own definition (RFC {self.rfc} {self.section}), not advice"
        return f"keyword {self.keyword or self.level}"

    @property
    def strict(self) -> bool:
        """A broken MUST fails the test; a broken SHOULD or MAY is a WARN unless --strict."""
        return self.level == "MUST"


def parse_marker(args: tuple[object, ...], kwargs: dict[str, object]) -> Marker:
    """Validate a marker's form; raise ValueError naming what is wrong."""
    if len(args) != 2 or not all(isinstance(a, str) for a in args):
        raise ValueError(
            "rfc marker needs two strings: RFC number and section, e.g. rfc('9293', '3.4')"
        )
    rfc, section = str(args[0]), str(args[1])
    if not rfc.isdigit():
        raise ValueError(f"RFC number must be digits, got {rfc!r}")
    if not re.fullmatch(r"[0-9A-Z]+(\.[0-9]+)*", section):
        raise ValueError(f"section must look like 3.8.6.3, got {section!r}")
    unknown = set(kwargs) - {"req", "level"}
    if unknown:
        raise ValueError(f"unknown rfc marker argument(s): {', '.join(sorted(unknown))}")
    req, level = kwargs.get("req"), kwargs.get("level")
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if req is None:
        if level is None:
            raise ValueError(f"give req=<requirement ID> or level= one of {', '.join(LEVELS)}")
        return Marker(rfc, section, None, str(level))
    req = str(req)
    match = _APPENDIX_B_ID.match(req)
    if match:
        implied = _ID_LEVEL[match.group(1)]
        if level is not None and level != implied:
            raise ValueError(f"{req} is a {implied}, not a {level}")
        return Marker(rfc, section, req, implied)
    if not _CATALOGUE_ID.match(req):
        raise ValueError(
            "requirement ID must be an Appendix B ID (MUST-40, SHLD-19) or lower-case words "
            f"joined by dashes, got {req!r}"
        )
    return Marker(rfc, section, req, None if level is None else str(level))
