from pathlib import Path

import pytest

from harness.core import catalogue
from harness.core.requirements import parse_marker
from harness.core.tolerance import Tolerance

SUITES = Path(__file__).parents[1] / "suites"


def test_requirement_id_gives_the_level():
    req = catalogue.requirement(("9293", "3.8.6.3"), {"req": "MUST-40"})
    assert req.level == "MUST" and req.strict and req.keyword == "MUST"
    assert req.url == "https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3"
    assert catalogue.requirement(("9293", "3.8.6.3"), {"req": "SHLD-19"}).level == "SHOULD"


def test_requirement_without_id_needs_a_level():
    req = catalogue.requirement(("5681", "4.2"), {"level": "SHOULD"})
    assert req.story == "§4.2 SHOULD" and not req.strict


def test_a_sentence_without_a_keyword_is_at_most_a_warn_and_says_so():
    req = catalogue.requirement(("9293", "3.10.7.4"), {"level": "SHOULD"})
    assert req.keywordless and not req.strict
    assert "without a BCP 14 keyword" in req.basis


def test_the_protocol_definition_is_a_must_and_says_so():
    req = catalogue.requirement(("9293", "3.4"), {"level": "MUST"})
    assert req.strict and "definition" in req.basis


def test_every_catalogue_level_follows_from_its_keyword():
    assert catalogue.inconsistent_levels() == []


@pytest.mark.parametrize(
    ("args", "kwargs", "complaint"),
    [
        (("9293",), {"req": "MUST-1"}, "two strings"),
        (("rfc9293", "3.4"), {"level": "MUST"}, "digits"),
        (("9293", "3.4"), {"req": "MUST40"}, "MUST-40"),
        (("9293", "3.4"), {"req": "MUST_40"}, "MUST-40"),
        (("2131", "4.4.5"), {"req": "Renew Omits"}, "dashes"),
        (("9293", "3.4"), {}, "level="),
        (("9293", "3.4"), {"level": "SHALL"}, "level must be"),
        (("9293", "3.4"), {"req": "SHLD-19", "level": "MUST"}, "is a SHOULD"),
        (("9293", "3.4"), {"level": "MUST", "reqid": "x"}, "unknown"),
    ],
)
def test_bad_marker_is_refused_with_the_reason(args, kwargs, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_marker(args, kwargs)


def test_a_marker_the_catalogue_does_not_know_is_refused():
    with pytest.raises(ValueError, match="not in the requirement catalogue"):
        catalogue.requirement(("2131", "4.4.5"), {"req": "no-such-requirement"})
    with pytest.raises(ValueError, match=r"is in section 3\.8\.6\.3, not 3\.4"):
        catalogue.requirement(("9293", "3.4"), {"req": "MUST-40"})


def test_tolerance_is_the_larger_of_floor_and_percentage():
    tol = Tolerance(floor_s=0.02, pct=10)
    assert tol.widen(0.0) == pytest.approx(0.02)
    assert tol.widen(0.5) == pytest.approx(0.55)
    assert tol.widen(0.1) == pytest.approx(0.12)


def test_every_wire_observable_appendix_b_id_is_tested_or_says_why_not():
    """RFC 9293 Appendix B's MUST and SHOULD IDs a peer could observe: each is checked by a
    suite test or carries a reason (not_tested) in the catalogue, never both."""
    covered = catalogue.coverage([str(SUITES)])
    appendix_b = [
        e
        for e in catalogue.entries()
        if e.rfc == "9293" and e.wire and (e.id or "").startswith(("MUST-", "SHLD-"))
    ]
    silent = [e.key for e in appendix_b if not covered[e.key] and not e.not_tested]
    stale = [e.key for e in appendix_b if covered[e.key] and e.not_tested]
    assert silent == [], f"neither tested nor explained: {silent}"
    assert stale == [], f"tested, yet the catalogue says why not: {stale}"
