import pytest

from harness.requirements import requirement_from_marker
from harness.tolerance import Tolerance


def test_requirement_id_gives_the_level():
    req = requirement_from_marker(("9293", "3.8.6.3"), {"req": "MUST-40"})
    assert req.level == "MUST" and req.strict
    assert req.url == "https://www.rfc-editor.org/rfc/rfc9293#section-3.8.6.3"
    assert requirement_from_marker(("9293", "3.8.6.3"), {"req": "SHLD-19"}).level == "SHOULD"


def test_requirement_without_id_needs_a_level():
    req = requirement_from_marker(("5681", "4.2"), {"level": "SHOULD"})
    assert req.story == "§4.2 SHOULD" and not req.strict


@pytest.mark.parametrize(
    ("args", "kwargs", "complaint"),
    [
        (("9293",), {"req": "MUST-1"}, "two strings"),
        (("rfc9293", "3.4"), {"level": "MUST"}, "digits"),
        (("9293", "3.4"), {"req": "MUST40"}, "MUST-40"),
        (("9293", "3.4"), {}, "level="),
        (("9293", "3.4"), {"req": "SHLD-19", "level": "MUST"}, "is a SHOULD"),
        (("9293", "3.4"), {"level": "MUST", "reqid": "x"}, "unknown"),
    ],
)
def test_bad_marker_is_refused_with_the_reason(args, kwargs, complaint):
    with pytest.raises(ValueError, match=complaint):
        requirement_from_marker(args, kwargs)


def test_tolerance_is_the_larger_of_floor_and_percentage():
    tol = Tolerance(floor_s=0.02, pct=10)
    assert tol.widen(0.0) == pytest.approx(0.02)
    assert tol.widen(0.5) == pytest.approx(0.55)
    assert tol.widen(0.1) == pytest.approx(0.12)
