"""The ICMP tester reassembles a fragmented message before judging it: a host that learnt a
smaller path MTU fragments its echo replies, and a fragment's checksum means nothing alone."""

from harness.icmp.peer import IcmpPeer
from reference_impl.wire.icmp import ECHO_REPLY, Icmp, echo
from reference_impl.wire.ipv4 import FLAG_MF, PROTO_ICMP, IPv4

MESSAGE = echo(ECHO_REPLY, 7, 1, bytes(range(256)) * 4).emit()


def fragment(offset, end, more):
    payload = MESSAGE[offset:end]
    flags = FLAG_MF if more else 0
    return IPv4(
        "198.18.0.2",
        "198.18.0.1",
        PROTO_ICMP,
        payload,
        ident=9,
        flags=flags,
        frag_offset=offset // 8,
    )


def peer():
    return IcmpPeer(None, "02:00:00:00:00:01", "198.18.0.1", "02:00:00:00:00:02", "198.18.0.2")


def test_fragments_in_order_or_not_make_the_whole_message_once():
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        tester = peer()
        pieces = [fragment(0, 496, True), fragment(496, 976, True), fragment(976, 2000, False)]
        got = [tester._reassembled(pieces[i]) for i in order]
        assert got[:2] == [None, None]
        assert got[2] == MESSAGE
        assert Icmp.parse(got[2]).checksum_ok
        assert not tester._fragments


def test_an_unfragmented_message_passes_as_it_is_and_a_lone_fragment_never_does():
    tester = peer()
    assert tester._reassembled(fragment(0, len(MESSAGE), False)) == MESSAGE
    assert tester._reassembled(fragment(0, 976, True)) is None
