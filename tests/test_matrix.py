"""The matrix: stacks from TOML, verdicts per requirement, worst verdict wins, honest scores."""

import json

import pytest

from harness.core.errors import SetupError
from harness.core.verdicts import TestVerdict
from harness.matrix import Stack, StackResult, load_stacks, write_outputs


def test_stacks_load_from_toml_with_default_limits(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[[stack]]\nname = "a b"\ncmd = "x {tap}"\n\n'
        '[[stack]]\nname = "c"\ncmd = "y"\ntimeout = 5\nstart_timeout = 60\n'
    )
    stacks = load_stacks(path)
    assert [(s.name, s.slug, s.timeout, s.start_timeout) for s in stacks] == [
        ("a b", "a_b", 900.0, 30.0),
        ("c", "c", 5.0, 60.0),
    ]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[[stack]]\nname = 'a'\n", "needs a cmd"),
        ("[[stack]]\ncmd = 'x'\n", "needs a name"),
        ("[[stack]]\nname = 3\ncmd = 'x'\n", "needs a name"),
        ("[[stack]]\nname = 'a'\ncmd = 7\n", "needs a cmd"),
        ("stack = 3\n", "no \\[\\[stack\\]\\] tables"),
        ("stack = [3]\n", "is not a table"),
        ("[[stack\n", "not valid TOML"),
        ("[[stack]]\nname='a'\ncmd='x'\n[[stack]]\nname='a'\ncmd='y'\n", "two stacks are named"),
        ("[[stack]]\nname='a'\ncmd='x'\ntimeout='soon'\n", "timeout must be a number"),
        ("[[stack]]\nname='a'\ncmd='x'\ntimeout=-5\n", "timeout must be above 0"),
        ("[[stack]]\nname='a'\ncmd='x'\ntimeout=nan\n", "timeout must be a number"),
        ("[[stack]]\nname='a'\ncmd='x'\ntimeout=true\n", "timeout must be a number"),
        ("[[stack]]\nname='a'\ncmd='x'\nstart_timeout=0\n", "start_timeout must be above 0"),
        ("[[stack]]\nname='a'\ncmd='x'\ntimout=3\n", "unknown key"),
        ("[[stack]]\nname='a'\ncmd='x {tapp}'\n", "unknown placeholder"),
        ("[[stack]]\nname='a'\ncmd='x \"y'\n", "cannot be split"),
    ],
)
def test_bad_stack_files_are_one_clear_error(tmp_path, text, complaint):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(SetupError, match=complaint):
        load_stacks(path)


def test_missing_directory_and_binary_stack_files_are_clear_errors(tmp_path):
    with pytest.raises(SetupError, match="no such file"):
        load_stacks(tmp_path / "nope.toml")
    with pytest.raises(SetupError, match="is a directory"):
        load_stacks(tmp_path)
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(SetupError, match=r"not a text file|not valid TOML"):
        load_stacks(binary)


def verdict(test, verdict, requirement, message=""):
    return TestVerdict(f"suites/tcp/test_close.py::{test}[x]", verdict, message, requirement, "s")


def test_worst_verdict_of_a_requirement_wins_and_unsupported_is_not_passed():
    result = StackResult(
        Stack("s", "x"),
        [
            verdict("a", "PASS", "R1"),
            verdict("b", "FAIL", "R1", "no FIN"),
            verdict("c", "WARN", "R2"),
            verdict("d", "INFO", "R3"),
            verdict("e", "UNSUPPORTED", "R4"),
            verdict("f", "ERROR", "R5"),
        ],
    )
    assert result.cells == {
        "R1": "FAIL",
        "R2": "WARN",
        "R3": "INFO",
        "R4": "UNSUPPORTED",
        "R5": "ERROR",
    }
    assert result.reasons()["R1"] == "b: no FIN"


def test_an_empty_template_and_a_crashed_stack_score_zero(tmp_path):
    template = StackResult(
        Stack("template", "t"),
        [verdict(f"t{i}", "UNSUPPORTED", f"R{i}") for i in range(9)]
        + [verdict("rst", "FAIL", "R9", "nothing on the wire")],
    )
    crashed = StackResult(
        Stack("crashed", "c"),
        [
            verdict(f"t{i}", "ERROR", f"R{i}", "exited with status 3; its stderr: boom")
            for i in range(10)
        ],
    )
    good = StackResult(Stack("good", "g"), [verdict(f"t{i}", "PASS", f"R{i}") for i in range(10)])
    data = write_outputs([template, crashed, good], tmp_path)
    scores = {s["name"]: (s["score"], s["summary"]) for s in data["stacks"]}
    assert scores["template"] == (0.0, "passed 0 of 10 checked; 1 fail, 9 unsupported")
    assert scores["crashed"] == (0.0, "passed 0 of 10 checked; 10 error")
    assert scores["good"] == (1.0, "passed 10 of 10 checked")
    assert data["stacks"][1]["crash"].startswith("exited with status 3")


def test_outputs_hold_every_stack_requirement_and_a_page_per_stack(tmp_path):
    good = StackResult(Stack("good", "x"), [verdict("a", "PASS", "R1"), verdict("b", "PASS", "R2")])
    bad = StackResult(Stack("bad", "y"), [verdict("a", "FAIL", "R1", "late")], note="stopped")
    write_outputs([good, bad], tmp_path)
    data = json.loads((tmp_path / "matrix.json").read_text())
    assert [r["key"] for r in data["requirements"]] == ["R1", "R2"]
    assert data["stacks"][1]["cells"]["R2"] == "ERROR"  # a run cut short did not reach it
    markdown = (tmp_path / "matrix.md").read_text()
    assert "| R1 | PASS | FAIL |" in markdown and "bad: stopped" in markdown
    page = (tmp_path / "index.html").read_text()
    assert 'title="a: late"' in page and 'href="bad/index.html"' in page
    assert "good: 100%" in (tmp_path / "good" / "index.html").read_text()


# -- shards and merging -------------------------------------------------------------------------


def _stacks(n):
    return [Stack(f"s{i}", f"cmd{i} {{tap}}") for i in range(n)]


def test_shards_take_every_nth_stack_and_together_take_each_once():
    from harness.matrix import shard_of

    stacks = _stacks(7)
    shares = [shard_of(stacks, (k, 3)) for k in (1, 2, 3)]
    assert [s.name for s in shares[0]] == ["s0", "s3", "s6"]
    assert sorted(s.name for share in shares for s in share) == sorted(s.name for s in stacks)
    assert shard_of(stacks, (1, 1)) == stacks


def _fake_run(folder, stack, position, verdict):
    """What _run_stack leaves for a stack: its verdicts, its stack.json, an Allure result."""
    from harness.core import verdicts
    from harness.matrix import _write_stack_file

    result = StackResult(stack, [TestVerdict(f"t.py::test_a[{stack.slug}]", verdict, "", "R1")])
    result.seconds = 1.0 + position
    sub = folder / stack.slug
    (sub / "allure-results").mkdir(parents=True)
    (sub / "allure-results" / f"{stack.slug}-result.json").write_text("{}")
    log = verdicts.VerdictLog()
    log.verdicts = {v.nodeid: v for v in result.tests}
    log.write(sub / "verdicts.json")
    _write_stack_file(sub, result, position)
    return result


def test_merged_shards_give_the_matrix_of_one_run_in_the_stacks_file_order(tmp_path):
    from harness.matrix import matrix_data, merge

    stacks = _stacks(5)
    direct = []
    for position, stack in enumerate(stacks):
        shard = tmp_path / f"shard-{position % 2}"  # two shards, interleaved
        direct.append(_fake_run(shard, stack, position, "PASS" if position % 3 else "FAIL"))
    merged = merge([tmp_path / "shard-1", tmp_path / "shard-0"], tmp_path / "out")
    assert [r.stack.name for r in merged] == [s.name for s in stacks]
    assert matrix_data(merged) == matrix_data(direct)
    copied = sorted(p.name for p in (tmp_path / "out" / "allure-results").iterdir())
    assert copied == sorted(f"{s.slug}-result.json" for s in stacks)
    assert all((tmp_path / "out" / s.slug / "verdicts.json").exists() for s in stacks)


def test_merging_the_same_stack_twice_or_nothing_is_a_clear_error(tmp_path):
    from harness.matrix import merge

    stack = _stacks(1)[0]
    _fake_run(tmp_path / "a", stack, 0, "PASS")
    _fake_run(tmp_path / "b", stack, 0, "PASS")
    with pytest.raises(SetupError, match="in two of the folders"):
        merge([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SetupError, match="no stack results"):
        merge([tmp_path / "empty"], tmp_path / "out")
    with pytest.raises(SetupError, match="no such matrix folder"):
        merge([tmp_path / "missing"], tmp_path / "out")
