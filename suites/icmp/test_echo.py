"""ICMP echo (RFC 792; RFC 1122 3.2.2 and 3.2.2.6): every host answers a ping, returning
what it was sent, from the address it was sent to; a message of an unknown type draws
nothing. A host that never answers is reported once, by test_an_echo_request_is_answered;
the checks of a reply's contents are UNSUPPORTED without one (README, "Verdicts")."""

import pytest

from harness.core.bounds import PROMPT_S, QUIET_S
from harness.core.errors import ConformanceFailure, Unsupported
from reference_impl.wire.icmp import ECHO_REPLY, ECHO_REQUEST, Icmp, echo

IDENT = 0x4E43  # "NC"
DATA = bytes(range(256)) * 4  # 1 KiB with every byte value
UNASSIGNED_TYPE = 100  # IANA leaves ICMP types 44 to 252 unassigned


def ping(icmp, seq, data=DATA):
    """Send an echo request; return the target's echo replies to it (any identifier)."""
    icmp.peer.send(echo(ECHO_REQUEST, IDENT, seq, data))
    replies = [m for m in icmp.peer.receive(PROMPT_S) if m.icmp.type == ECHO_REPLY]
    for message in replies:
        if not message.icmp.checksum_ok:
            raise ConformanceFailure(f"an echo reply with a bad checksum: {message.describe()}")
    return replies


def ping_for_contents(icmp, seq, data=DATA):
    """The replies to one echo request, for a test of their contents: none is UNSUPPORTED."""
    replies = ping(icmp, seq, data)
    if not replies:
        raise Unsupported("no echo reply to inspect (test_an_echo_request_is_answered reports it)")
    return replies


@pytest.mark.rfc("1122", "3.2.2.6", req="echo-server")
def test_an_echo_request_is_answered(icmp):
    if not ping(icmp, 1):
        raise ConformanceFailure(f"no echo reply within {PROMPT_S:.0f} s")


@pytest.mark.rfc("1122", "3.2.2.6", req="echo-data-returned")
def test_the_reply_returns_identifier_sequence_and_data(icmp):
    replies = ping_for_contents(icmp, 2)
    reply = replies[0].icmp
    assert (reply.ident, reply.seq) == (IDENT, 2), f"the reply is {replies[0].describe()}"
    assert reply.payload == DATA, f"{len(reply.payload)} bytes came back, not the 1024 sent"


@pytest.mark.rfc("1122", "3.2.2.6", req="echo-reply-source")
def test_the_reply_comes_from_the_address_pinged(icmp):
    replies = ping_for_contents(icmp, 3, b"source")
    assert replies[0].src == icmp.peer.target_ip, f"the reply is {replies[0].describe()}"


@pytest.mark.rfc("1122", "3.2.2", req="unknown-type-discarded")
def test_a_message_of_unknown_type_draws_nothing(icmp):
    """Silence proves something only from a host that answers: it must answer an echo
    request before the unknown message (else nothing can be judged) and after it (a host
    that stops answering did not discard the message)."""
    if not ping(icmp, 4, b"alive?"):
        raise Unsupported(
            "the host answers no echo request (test_an_echo_request_is_answered reports it): "
            "its silence would prove nothing"
        )
    icmp.peer.send(Icmp(UNASSIGNED_TYPE, 0, b"\x00\x00\x00\x00", b"unknown"))
    answered = icmp.peer.receive(QUIET_S)
    if answered:
        raise ConformanceFailure(f"the target answered: {answered[0].describe()}")
    if not ping(icmp, 5, b"still alive?"):
        raise ConformanceFailure(
            f"the host answered an echo request before a message of type {UNASSIGNED_TYPE} "
            f"and none within {PROMPT_S:.0f} s after it"
        )
