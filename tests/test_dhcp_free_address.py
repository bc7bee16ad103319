"""A DHCP server bed remembers every address its server handed out, so that a test that
needs a free pool address (the requested-address check) is not misled by an earlier test's
lease: dnsmasq hashes client MACs over the whole pool."""

import random
from types import SimpleNamespace

from harness.dhcp.case import ServerCase
from harness.dhcp.peer import ClientsPeer, Seen
from reference_impl.dhcp.packets import DhcpPacket
from reference_impl.wire.dhcp import DhcpMessage


def seen(op: int, yiaddr: str, from_tester: bool) -> Seen:
    message = DhcpMessage(op=op, xid=1, chaddr="02:6e:64:00:00:01", yiaddr=yiaddr)
    packet = DhcpPacket(message, "02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "0", "0", 67, 68)
    return Seen(0, packet, from_tester)


def test_the_addresses_a_server_handed_out_are_its_replies_yiaddr():
    clients = ClientsPeer(link=None, server_ip="198.18.0.1")
    clients.exchanged += [
        seen(1, "0.0.0.0", True),  # the tester's DISCOVER
        seen(2, "198.18.0.160", False),  # OFFER
        seen(2, "198.18.0.160", False),  # ACK
        seen(2, "0.0.0.0", False),  # NAK: nothing handed out
        seen(1, "198.18.0.170", True),  # the tester's own field: not the server's word
    ]
    assert clients.addresses_handed_out() == {"198.18.0.160"}


def case_with(handed_out: set[str], this_test: frozenset[str] = frozenset()) -> SimpleNamespace:
    return SimpleNamespace(
        plan=SimpleNamespace(pool=("198.18.0.100", "198.18.0.235")),
        bed=SimpleNamespace(handed_out=handed_out),
        clients=SimpleNamespace(rng=random.Random(3), addresses_handed_out=lambda: set(this_test)),
    )


def test_a_free_pool_address_is_one_no_earlier_test_was_given():
    taken = {f"198.18.0.{160 + i}" for i in range(30) if i != 17}
    case = case_with(taken)
    assert ServerCase.free_pool_address(case, range(60, 90)) == "198.18.0.177"  # type: ignore[arg-type]
    case.bed.handed_out.add("198.18.0.177")
    assert ServerCase.free_pool_address(case, range(60, 90)) is None  # type: ignore[arg-type]


def test_an_address_given_earlier_in_the_same_test_is_not_free():
    """The INIT-REBOOT check asks for an address other than the lease its client just got."""
    taken = {f"198.18.0.{140 + i}" for i in range(20) if i not in (3, 7)}
    case = case_with(taken, frozenset({"198.18.0.143"}))
    assert ServerCase.free_pool_address(case, range(40, 60)) == "198.18.0.147"  # type: ignore[arg-type]
