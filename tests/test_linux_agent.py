"""The Linux agent's operations on loopback, called in-process."""

import base64

import pytest

from harness.hosts.agent import RequestError, _dispatch
from harness.hosts.linux_agent import LinuxAgent, generated, generated_piece


@pytest.fixture
def agent():
    a = LinuxAgent()
    yield a
    for sock in a.handles.values():
        sock.close()


def call(agent, **request):
    import json

    return _dispatch(agent.handlers(), json.dumps(request))


def test_listen_connect_accept_send_recv_shutdown(agent):
    listener = call(agent, op="listen", port=0, ip="127.0.0.1")["handle"]
    port = agent.handles[listener].getsockname()[1]
    client = call(agent, op="connect", ip="127.0.0.1", port=port)["handle"]
    server = call(agent, op="accept", handle=listener, timeout=2)["handle"]
    assert call(agent, op="send", handle=client, size=300)["sent"] == 300
    got = call(agent, op="recv", handle=server, max=1000, min=300, timeout=2)
    assert base64.b64decode(got["data"]) == generated(300)
    assert call(agent, op="shutdown", handle=client, how="wr")["ok"]
    assert call(agent, op="recv", handle=server, max=10, timeout=2)["eof"] is True
    info = call(agent, op="info", handle=server)
    assert info["state"] == "CLOSE-WAIT" and info["snd_mss"] > 0


def test_accept_times_out_with_the_timeout_error(agent):
    listener = call(agent, op="listen", port=0, ip="127.0.0.1")["handle"]
    reply = call(agent, op="accept", handle=listener, timeout=0.05)
    assert reply == {"ok": False, "error": "timeout", "message": "nothing happened within 0.05 s"}


def test_unknown_handle_and_option_are_refused(agent):
    assert call(agent, op="close", handle=99)["error"] == "no_such_handle"
    listener = call(agent, op="listen", port=0, ip="127.0.0.1")["handle"]
    assert (
        call(agent, op="set", handle=listener, option="colour", value=1)["error"] == "unsupported"
    )
    assert call(agent, op="shutdown", handle=listener, how="sideways")["error"] == "bad_request"


def test_connect_to_closed_port_reports_refused_on_send(agent):
    listener = call(agent, op="listen", port=0, ip="127.0.0.1")["handle"]
    port = agent.handles[listener].getsockname()[1]
    call(agent, op="close", handle=listener)
    client = call(agent, op="connect", ip="127.0.0.1", port=port)["handle"]
    assert call(agent, op="send", handle=client, size=1, timeout=2)["error"] == "refused"


def test_request_error_carries_its_name():
    assert RequestError("timeout", "x").error == "timeout"


@pytest.mark.parametrize(
    "offset, size", [(0, 1), (255, 300), (1_000_003, 65_281), (7, 65_536), (300, 4 << 20), (5, 0)]
)
def test_a_piece_of_the_generated_bytes_is_that_slice_of_the_whole(offset, size):
    assert bytes(generated_piece(offset, size)) == generated(offset + size + 17)[offset:][:size]
