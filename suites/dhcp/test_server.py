"""DHCP servers (RFC 2131 sections 3.1, 4.1 and 4.3): the harness plays the clients.

Each test makes up clients of its own (random MACs and client identifiers), so that tests
sharing one server do not see each other's leases.
"""

from __future__ import annotations

import ipaddress

import pytest

from harness.dhcp.case import ServerCase
from harness.dhcp.peer import ALL_ONES, ZERO, ClientsPeer
from harness.errors import Unsupported
from reference_impl.dhcp.packets import DhcpPacket
from reference_impl.wire.dhcp import (
    CLIENT_ID,
    FLAG_BROADCAST,
    INFORM,
    LEASE_TIME,
    MAX_MESSAGE_SIZE,
    PARAMETER_LIST,
    REQUEST,
    REQUESTED_IP,
    SERVER_ID,
)
from reference_impl.wire.ethernet import BROADCAST

REPLY_WAIT_S = 5.0
SILENCE_S = 3.0
OTHER_SERVER = "198.18.0.77"  # a server that does not exist on the link
WRONG_NETWORK = "10.99.0.5"
RELAY = "198.18.0.253"  # the harness answers ARP for it, as a relay agent would


@pytest.mark.rfc("2131", "4.3.1", level="MUST")
def test_offer_and_ack_copy_the_request_fields(dhcp_server: ServerCase) -> None:
    """An OFFER and an ACK carry the request's xid, flags, giaddr and chaddr (table 3)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    offer = clients.discover(client, broadcast=True)
    request = clients.message(
        client,
        REQUEST,
        requested=offer.message.yiaddr,
        server_id=offer.message.option_ip(SERVER_ID),
        broadcast=True,
        new_xid=False,
    )
    clients.send_from(client, request)
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to REQUEST")
    for reply in (offer, ack):
        msg = reply.message
        wrong = [
            f"{name}={getattr(msg, name)!r} (request: {want!r})"
            for name, want in (
                ("xid", client.xid),
                ("flags", FLAG_BROADCAST),
                ("giaddr", ZERO),
                ("chaddr", client.mac),
            )
            if getattr(msg, name) != want
        ]
        if wrong:
            raise clients.failure(f"{reply.kind} does not copy the request: {', '.join(wrong)}")


@pytest.mark.rfc("2131", "4.3.1", level="MUST")
def test_offer_and_ack_carry_server_id_and_lease_time(dhcp_server: ServerCase) -> None:
    """Table 3: OFFER and ACK (to a REQUEST) MUST carry the server identifier and the lease
    time."""
    clients = dhcp_server.clients
    client = clients.new_client()
    offer = clients.discover(client)
    clients.send_from(
        client,
        clients.message(
            client,
            REQUEST,
            requested=offer.message.yiaddr,
            server_id=offer.message.option_ip(SERVER_ID) or dhcp_server.plan.server_ip,
            new_xid=False,
        ),
    )
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to REQUEST")
    for reply in (offer, ack):
        missing = [
            name
            for name, code in (("server identifier", SERVER_ID), ("lease time", LEASE_TIME))
            if reply.message.option(code) is None
        ]
        if missing:
            raise clients.failure(f"{reply.kind} lacks {' and '.join(missing)}")
    dhcp_server.measure("lease time", f"{ack.message.option_u32(LEASE_TIME)} s")


@pytest.mark.rfc("2131", "4.3.1", level="MUST")
def test_replies_omit_the_options_table_3_forbids(dhcp_server: ServerCase) -> None:
    """Table 3: no requested address, parameter request list or maximum message size in an
    OFFER or ACK, even when the client sent them. (Client identifier: RFC 6842 now has
    servers echo it, so it is not checked.)"""
    clients = dhcp_server.clients
    client = clients.new_client()
    ack = clients.lease(client, REPLY_WAIT_S, requested=str(_pool_address(dhcp_server, 7)))
    offer = client.offer
    assert offer is not None
    for reply in (offer, ack):
        present = [
            name
            for name, code in (
                ("requested IP address", REQUESTED_IP),
                ("parameter request list", PARAMETER_LIST),
                ("maximum message size", MAX_MESSAGE_SIZE),
            )
            if reply.message.option(code) is not None
        ]
        if present:
            raise clients.failure(f"{reply.kind} carries {', '.join(present)}")


@pytest.mark.rfc("6842", "3", level="MUST")
def test_replies_echo_the_client_identifier(dhcp_server: ServerCase) -> None:
    """A client identifier in the request comes back unaltered in the OFFER and the ACK."""
    clients = dhcp_server.clients
    client = clients.new_client()
    ack = clients.lease(client, REPLY_WAIT_S)
    offer = client.offer
    assert offer is not None
    for reply in (offer, ack):
        echoed = reply.message.option(CLIENT_ID)
        if echoed != client.client_id:
            shown = "none" if echoed is None else echoed.hex()
            raise clients.failure(
                f"{reply.kind} returns client identifier {shown}, sent {client.client_id.hex()}"
            )


@pytest.mark.rfc("2131", "4.3.1", level="SHOULD")
def test_requested_address_is_offered_when_free(dhcp_server: ServerCase) -> None:
    """A new client asking for a free pool address is offered that address (4.3.1's order)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    wanted = str(_pool_address(dhcp_server, 60 + clients.rng.randrange(30)))
    offer = clients.discover(client, requested=wanted)
    if offer.message.yiaddr != wanted:
        raise clients.failure(f"asked for free {wanted}, offered {offer.message.yiaddr}")


@pytest.mark.rfc("2131", "4.1", level="SHOULD")
def test_broadcast_bit_gets_a_broadcast_reply(dhcp_server: ServerCase) -> None:
    """BROADCAST bit set: the OFFER goes to 255.255.255.255 and the link broadcast."""
    clients = dhcp_server.clients
    client = clients.new_client()
    offer = clients.discover(client, broadcast=True)
    if (offer.ip_dst, offer.eth_dst) != (ALL_ONES, BROADCAST):
        raise clients.failure(
            f"OFFER went to {offer.ip_dst} at {offer.eth_dst}, not {ALL_ONES} at {BROADCAST}"
        )


@pytest.mark.rfc("2131", "4.1", level="SHOULD")
def test_clear_broadcast_bit_gets_unicast_to_yiaddr_at_chaddr(dhcp_server: ServerCase) -> None:
    """BROADCAST bit clear: the OFFER is unicast to yiaddr at the chaddr MAC."""
    clients = dhcp_server.clients
    client = clients.new_client()
    offer = clients.discover(client, broadcast=False)
    want = (offer.message.yiaddr, client.mac)
    if (offer.ip_dst, offer.eth_dst) != want:
        raise clients.failure(
            f"OFFER went to {offer.ip_dst} at {offer.eth_dst}, not {want[0]} at {want[1]}"
        )


@pytest.mark.rfc("2131", "4.1", level="MUST")
def test_reply_goes_to_the_relay_in_giaddr(dhcp_server: ServerCase) -> None:
    """A DISCOVER relayed through giaddr is answered to the relay's server port (67)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    clients.arp_for[RELAY] = client.mac  # the "relay" answers ARP on the tester's side
    offer = clients.discover(client, giaddr=RELAY, what="reply to relayed DISCOVER")
    if (offer.ip_dst, offer.dport) != (RELAY, 67):
        raise clients.failure(
            f"relayed OFFER went to {offer.ip_dst} port {offer.dport}, not {RELAY} port 67"
        )
    if offer.message.giaddr != RELAY:
        raise clients.failure(f"relayed OFFER has giaddr {offer.message.giaddr}, not {RELAY}")


@pytest.mark.rfc("2131", "4.1", level="MUST")
def test_renewing_request_is_acked_to_ciaddr(dhcp_server: ServerCase) -> None:
    """RENEWING: a REQUEST unicast from ciaddr (no server id, no requested address) is
    ACKed by unicast to ciaddr."""
    clients = dhcp_server.clients
    client = clients.new_client()
    clients.lease(client, REPLY_WAIT_S)
    renew = clients.message(client, REQUEST, ciaddr=client.address)
    clients.send_from(client, renew, unicast=True)
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to RENEWING REQUEST")
    _expect_to(clients, ack, client.address, client.mac)


@pytest.mark.rfc("2131", "4.1", level="MUST")
def test_rebinding_request_is_acked_to_ciaddr(dhcp_server: ServerCase) -> None:
    """REBINDING: the same REQUEST broadcast is ACKed by unicast to ciaddr."""
    clients = dhcp_server.clients
    client = clients.new_client()
    clients.lease(client, REPLY_WAIT_S)
    clients.send_from(client, clients.message(client, REQUEST, ciaddr=client.address))
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to REBINDING REQUEST")
    _expect_to(clients, ack, client.address, client.mac)


@pytest.mark.rfc("2131", "3.1", level="MUST")
def test_server_not_selected_stays_silent(dhcp_server: ServerCase) -> None:
    """A REQUEST naming another server's identifier is a decline of this server's offer:
    no ACK, no NAK."""
    clients = dhcp_server.clients
    client = clients.new_client()
    offer = clients.discover(client)
    elsewhere = clients.message(
        client, REQUEST, requested=offer.message.yiaddr, server_id=OTHER_SERVER, new_xid=False
    )
    clients.send_from(client, elsewhere)
    clients.expect_no_reply(client, SILENCE_S, f"REQUEST selecting server {OTHER_SERVER}")


@pytest.mark.rfc("2131", "4.3.2", level="SHOULD")
def test_init_reboot_on_the_wrong_network_gets_a_nak(dhcp_server: ServerCase) -> None:
    """INIT-REBOOT asking for an address outside the server's network: NAK."""
    clients = dhcp_server.clients
    client = clients.new_client()
    clients.send_from(client, clients.message(client, REQUEST, requested=WRONG_NETWORK))
    clients.expect_reply(
        client, ("DHCPNAK",), REPLY_WAIT_S, f"reply to INIT-REBOOT for {WRONG_NETWORK}"
    )


@pytest.mark.rfc("2131", "4.3.2", level="MUST")
def test_nak_is_broadcast_with_server_id_and_no_lease(dhcp_server: ServerCase) -> None:
    """A NAK (giaddr zero) goes to 255.255.255.255; it carries the server identifier and
    neither a lease time nor a requested address (table 3)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    clients.send_from(client, clients.message(client, REQUEST, requested=WRONG_NETWORK))
    seen = clients.receive_reply(client, REPLY_WAIT_S)
    if seen is None or seen.kind != "DHCPNAK":
        raise Unsupported("the server sent no NAK to check (the SHOULD test of 4.3.2 reports that)")
    problems = []
    if seen.ip_dst != ALL_ONES or seen.eth_dst != BROADCAST:
        problems.append(f"sent to {seen.ip_dst} at {seen.eth_dst}, not broadcast")
    if seen.message.option(SERVER_ID) is None:
        problems.append("no server identifier")
    for name, code in (("lease time", LEASE_TIME), ("requested IP address", REQUESTED_IP)):
        if seen.message.option(code) is not None:
            problems.append(f"carries {name}")
    if problems:
        raise clients.failure("NAK: " + "; ".join(problems))


@pytest.mark.rfc("2131", "4.3.2", level="MUST")
def test_init_reboot_from_an_unknown_client_gets_silence(dhcp_server: ServerCase) -> None:
    """INIT-REBOOT for an address on the server's network from a client it has no record of:
    the server must stay silent (another server may know the client)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    address = str(_pool_address(dhcp_server, 95))
    clients.send_from(client, clients.message(client, REQUEST, requested=address))
    clients.expect_no_reply(client, SILENCE_S, f"INIT-REBOOT for {address} from a stranger")


@pytest.mark.rfc("2131", "4.3.3", level="MUST")
def test_declined_address_goes_to_no_client(dhcp_server: ServerCase) -> None:
    """After a DECLINE, the address is given to nobody: not to a client asking for it, not
    to the client that declined it."""
    clients = dhcp_server.clients
    first = clients.new_client()
    ack = clients.lease(first, REPLY_WAIT_S)
    declined = ack.message.yiaddr
    clients.decline(first, declined)
    for who, client in (("another client", clients.new_client()), ("the same client", first)):
        offer = clients.discover(client, requested=declined, what=f"DISCOVER from {who}")
        if offer.message.yiaddr == declined:
            raise clients.failure(f"declined {declined} was offered again, to {who}")


@pytest.mark.rfc("2131", "4.3.4", level="SHOULD")
def test_released_address_comes_back_to_its_client(dhcp_server: ServerCase) -> None:
    """After RELEASE the server remembers the client: its next DISCOVER is offered the same
    address."""
    clients = dhcp_server.clients
    client = clients.new_client()
    ack = clients.lease(client, REPLY_WAIT_S)
    address = ack.message.yiaddr
    clients.release(client)
    offer = clients.discover(client, what="DISCOVER after RELEASE")
    if offer.message.yiaddr != address:
        raise clients.failure(f"released {address}, then offered {offer.message.yiaddr}")


@pytest.mark.rfc("2131", "4.3.5", level="MUST")
def test_inform_gets_an_ack_to_ciaddr_without_lease_time(dhcp_server: ServerCase) -> None:
    """INFORM from a configured client: ACK sent to ciaddr, with no lease time."""
    clients = dhcp_server.clients
    client = clients.new_client()
    client.address = str(_pool_address(dhcp_server, -50))  # configured by hand, outside the pool
    clients.send_from(client, clients.message(client, INFORM, ciaddr=client.address), unicast=True)
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to INFORM")
    _expect_to(clients, ack, client.address, client.mac)
    if ack.message.option(LEASE_TIME) is not None:
        raise clients.failure(
            f"ACK to INFORM carries a lease time ({ack.message.option_u32(LEASE_TIME)} s)"
        )


@pytest.mark.rfc("2131", "4.3.5", level="SHOULD")
def test_inform_ack_leaves_yiaddr_empty(dhcp_server: ServerCase) -> None:
    clients = dhcp_server.clients
    client = clients.new_client()
    client.address = str(_pool_address(dhcp_server, -49))
    clients.send_from(client, clients.message(client, INFORM, ciaddr=client.address), unicast=True)
    ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to INFORM")
    if ack.message.yiaddr != ZERO:
        raise clients.failure(f"ACK to INFORM fills in yiaddr={ack.message.yiaddr}")


def _pool_address(case: ServerCase, offset: int) -> ipaddress.IPv4Address:
    """An address ``offset`` from the pool's first one (negative: below the pool)."""
    return ipaddress.IPv4Address(case.plan.pool[0]) + offset


def _expect_to(clients: ClientsPeer, reply: DhcpPacket, ip: str, mac: str) -> None:
    if (reply.ip_dst, reply.eth_dst) != (ip, mac):
        raise clients.failure(
            f"{reply.kind} went to {reply.ip_dst} at {reply.eth_dst}, not {ip} at {mac}"
        )
