"""The matrix: stacks from TOML, verdicts per requirement, worst verdict wins, scores."""

import json

import pytest

from harness.errors import SetupError
from harness.matrix import (
    Stack,
    StackResult,
    collect_verdicts,
    load_stacks,
    verdict_of,
    write_outputs,
)


def result_file(folder, name, status, link="RFC 9293 §3.4 (MUST)", tags=(), message=""):
    data = {
        "name": name,
        "status": status,
        "links": [{"name": link, "url": "x"}],
        "labels": [{"name": "tag", "value": t} for t in tags],
        "statusDetails": {"message": message},
    }
    (folder / f"{name}-result.json").write_text(json.dumps(data))


def test_stacks_load_from_toml_with_a_default_time_limit(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[stack]]\nname = "a b"\ncmd = "x {tap}"\n\n'
        '[[stack]]\nname = "c"\ncmd = "y"\ntimeout = 5\n'
    )
    stacks = load_stacks(path)
    assert [(s.name, s.slug, s.timeout) for s in stacks] == [("a b", "a_b", 900.0), ("c", "c", 5.0)]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[[stack]]\nname = 'a'\n", "needs a name and a cmd"),
        ("stack = 3\n", "no \\[\\[stack\\]\\] tables"),
        ("[[stack\n", "not valid TOML"),
        ("[[stack]]\nname='a'\ncmd='x'\n[[stack]]\nname='a'\ncmd='y'\n", "two stacks are named"),
    ],
)
def test_bad_stack_files_are_one_clear_error(tmp_path, text, complaint):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SetupError, match=complaint):
        load_stacks(path)


def test_missing_stack_file_is_a_clear_error(tmp_path):
    with pytest.raises(SetupError, match="no such file"):
        load_stacks(tmp_path / "nope.toml")


def test_verdicts_map_allure_statuses_and_tags():
    assert verdict_of({"status": "failed"}) == "FAIL"
    assert verdict_of({"status": "broken"}) == "ERROR"
    assert verdict_of({"status": "skipped"}) == "UNSUPPORTED"
    assert verdict_of({"status": "passed", "labels": [{"name": "tag", "value": "WARN"}]}) == "WARN"
    assert verdict_of({"status": "passed"}) == "PASS"


def test_worst_verdict_of_a_requirement_wins(tmp_path):
    result_file(tmp_path, "a", "passed")
    result_file(tmp_path, "b", "failed")
    result_file(tmp_path, "c", "passed", link="RFC 5681 §4.2 (SHOULD)", tags=("WARN",))
    cells, counts = collect_verdicts(tmp_path)
    assert cells == {"RFC 9293 §3.4 (MUST)": "FAIL", "RFC 5681 §4.2 (SHOULD)": "WARN"}
    assert counts["PASS"] == 1 and counts["FAIL"] == 1 and counts["WARN"] == 1


def test_outputs_hold_every_stack_and_requirement(tmp_path):
    good = StackResult(Stack("good", "x"), {"R1": "PASS", "R2": "UNSUPPORTED"})
    bad = StackResult(Stack("bad", "y"), {"R1": "FAIL"}, note="stopped at the time limit of 5 s")
    write_outputs([good, bad], tmp_path)
    data = json.loads((tmp_path / "matrix.json").read_text())
    assert data["requirements"] == ["R1", "R2"]
    assert data["stacks"][0]["score"] == 1.0 and data["stacks"][1]["score"] == 0.0
    assert data["stacks"][1]["cells"]["R2"] == "ERROR"  # a run cut short did not reach it
    markdown = (tmp_path / "matrix.md").read_text()
    assert "| R1 | PASS | FAIL |" in markdown and "bad: stopped at the time limit" in markdown
    page = (tmp_path / "index.html").read_text()
    assert page.count('href="good/allure-report/index.html"') == 3  # header and two cells
