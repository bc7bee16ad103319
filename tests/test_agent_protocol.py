"""The control-protocol client against agents that behave, hang, lie and die."""

import subprocess
import sys
import textwrap

import pytest

from harness.core.errors import TargetError, Unsupported
from harness.hosts.agent import AgentClient, AgentReplyError


def start(script: str) -> AgentClient:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    client = AgentClient.over_process(proc, "fake")
    client.proc = proc  # for the fixture's cleanup
    return client


@pytest.fixture
def agents():
    started = []

    def make(script):
        client = start(script)
        started.append(client)
        return client

    yield make
    for client in started:
        client.proc.kill()
        client.proc.wait()


GOOD = """
    from harness.hosts.agent import serve, RequestError
    def fail(r): raise RequestError("refused", "nobody there")
    serve({"hello": lambda r: {"ops": ["hello", "listen", "connect", "quit"]},
           "listen": lambda r: {"handle": r["port"] + 1},
           "connect": fail,
           "quit": lambda r: {"bye": True}})
"""


def test_client_round_trips_requests_and_records_the_transcript(agents):
    client = agents(GOOD)
    assert set(client.hello()["ops"]) == {"hello", "listen", "connect", "quit"}
    assert client.request("listen", port=41)["handle"] == 42
    assert client.transcript[-2] == '> {"op":"listen","port":41}'


def test_operation_the_target_lacks_is_unsupported(agents):
    client = agents(GOOD)
    client.hello()
    with pytest.raises(Unsupported, match="'recv'"):
        client.request("recv", handle=1)


def test_error_reply_names_the_error(agents):
    client = agents(GOOD)
    with pytest.raises(AgentReplyError) as info:
        client.request("connect", ip="198.18.0.1", port=1)
    assert info.value.error == "refused"


def test_missing_field_is_a_bad_request(agents):
    client = agents(GOOD)
    with pytest.raises(AgentReplyError, match="bad_request"):
        client.request("listen")


def test_hung_target_gives_a_clear_error_not_a_hang(agents, monkeypatch):
    monkeypatch.setattr("harness.hosts.agent.REPLY_GRACE_S", 0.2)
    client = agents("import time; time.sleep(30)")
    with pytest.raises(TargetError, match=r"did not answer 'hello' within 0.5 s"):
        client.request("hello", timeout=0.3)


def test_garbage_reply_is_a_protocol_error(agents):
    client = agents("import sys; sys.stdin.readline(); print('hello there', flush=True)")
    with pytest.raises(TargetError, match="not JSON"):
        client.request("hello")


def test_reply_without_ok_is_a_protocol_error(agents):
    client = agents("import sys; sys.stdin.readline(); print('[1, 2]', flush=True)")
    with pytest.raises(TargetError, match="boolean 'ok'"):
        client.request("hello")


def test_dead_target_reports_its_exit_status(agents):
    client = agents("import sys; sys.stdin.readline(); sys.exit(3)")
    with pytest.raises(TargetError, match=r"exit status 3|closed its control channel"):
        client.request("hello")


ECHO = """
    from harness.hosts.agent import serve
    serve({"hello": lambda r: {"ops": ["hello", "drain", "recv"]},
           "drain": lambda r: {"size": 0, "sha256": "", "eof": False, "asked": r.get("timeout")},
           "recv": lambda r: {"data": "", "size": 0, "eof": False, "asked": r.get("timeout")}})
"""


@pytest.mark.parametrize("op", ["drain", "recv"])
def test_a_waiting_operation_carries_the_callers_timeout(agents, op):
    """A drain sent without it ended at the target's default (5 s for the reference): a bulk
    transfer longer than that came back short, as if the data had been damaged."""
    client = agents(ECHO)
    client.hello()
    assert client.request(op, handle=1, size=1, timeout=42.0)["asked"] == 42.0
