"""Every subcommand refuses bad input with one line on stderr and a non-zero exit, before
anything starts: no traceback, no namespaces, no half-written output."""

import pytest

from tests.test_cli import run_cli

BINARY = bytes(range(256)) * 4

BAD = [
    (["subnet", "192.168.10.0/24", "--vlsm", ","], "--vlsm"),
    (["subnet", "192.168.10.0/24", "--vlsm", "LAN"], "NAME=HOSTS"),
    (["subnet", "192.168.10.0/24", "--vlsm", "LAN=-3"], "NAME=HOSTS"),
    (["subnet", "10.0.0.0/16", "--limit", "-1"], "--limit"),
    (["subnet", "10.0.0.0/8", "--hosts", "2", "--limit", "1000000"], "--limit"),
    (["subnet", "10.0.0.1/32", "--hosts", "1"], "too small"),
    (["subnet", "10.0.0.0/24", "--subnets", "0"], "at least 1"),
    (["subnet", "10.0.0.0/24", "--subnets", "-4"], "at least 1"),
    (["subnet", "300.1.2.3/24"], "300.1.2.3"),
    (["subnet", "10.0.0.0", "255.0.255.0"], "mask"),
    (["subnet", "10.0.0.0/24", "10.0.1.0/24"], "--summarize"),
    (["subnet", "--summarize", "10.0.0.0/24", "nonsense"], "nonsense"),
    (["aimd", "--seconds", "nan"], "--seconds"),
    (["aimd", "--seconds", "-1"], "--seconds"),
    (["aimd", "--seconds", "1e9"], "--seconds"),
    (["aimd", "--seconds", "2", "--out", "/proc/nope/aimd.svg"], "cannot write"),
    (["run", "--target", "bogus"], "unknown target"),
    (["run", "--target", "cmd:"], "needs a command line"),
    (["run", "--target", "cmd:./stack 'unbalanced"], "cannot be split"),
    (["run", "--target", "cmd:./stack {tapp}"], "unknown placeholder"),
    (["run", "--target", "a=cmd:x", "--target", "a=cmd:y"], "two targets are named"),
    (["run", "--target", "linux=cmd:x"], "target name"),
    (["run", "--dhcp-server", "bogus"], "invalid choice"),
    (["run", "--dhcp-client", "bogus"], "invalid choice"),
    (["run", "--suite", "/nonexistent/suite.py"], "no such suite"),
    (["matrix", "/nonexistent.toml"], "no such file"),
    (["matrix", "."], "is a directory"),
    (["matrix", "stacks.toml"], "timeout must be a number"),
    (["report"], "no results"),
    (["requirements", "--suite", "/nonexistent"], "no such suite"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize(("args", "complaint"), BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path, args, complaint):
    (tmp_path / "stacks.toml").write_text("[[stack]]\nname = 'a'\ncmd = 'x'\ntimeout = 'soon'\n")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines and complaint in lines[-1], result.stderr
    assert len(lines) == 1 or lines[0].startswith("usage:"), result.stderr
    assert not (tmp_path / "reports").exists() or args[0] in ("report",)


def test_a_binary_stacks_file_is_refused(tmp_path):
    (tmp_path / "bin.toml").write_bytes(BINARY)
    result = run_cli("matrix", str(tmp_path / "bin.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not a text file" in result.stderr or "not valid TOML" in result.stderr
