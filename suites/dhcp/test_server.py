"""DHCP servers (RFC 2131 sections 3.1, 4.1, 4.3 and table 3; RFC 6842; RFC 3046): the
harness plays the clients, and a relay agent where a test needs one.

Each check rests on one sentence (or one cell of table 3) and has its level (see the
catalogue). A server that does not answer at all is reported once, by the check whose subject
is the answer; the checks of the answer's contents are then UNSUPPORTED. Each test makes up
clients of its own (random MACs and client identifiers), so that tests sharing one server do
not see each other's leases.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from harness.core.errors import NotObserved, ScenarioNotReached, Unsupported
from harness.dhcp.case import ServerCase
from harness.dhcp.peer import ALL_ONES, ZERO, ClientsPeer, FakeClient
from reference_impl.dhcp.packets import DhcpPacket
from reference_impl.wire.dhcp import (
    CLIENT_ID,
    FLAG_BROADCAST,
    INFORM,
    LEASE_TIME,
    MAX_MESSAGE_SIZE,
    MESSAGE,
    MESSAGE_TYPE,
    PARAMETER_LIST,
    REBINDING_T2,
    RENEWAL_T1,
    REQUEST,
    REQUESTED_IP,
    ROUTER,
    SERVER_ID,
    SUBNET_MASK,
)
from reference_impl.wire.ethernet import BROADCAST

REPLY_WAIT_S = 5.0
SILENCE_S = 3.0
OTHER_SERVER = "198.18.0.77"  # a server that does not exist on the link
WRONG_NETWORK = "10.99.0.5"
RELAY = "198.18.0.253"  # the harness answers ARP for it, as a relay agent would
RELAY_AGENT_INFORMATION = 82  # RFC 3046
AGENT_INFO = b"\x01\x06port-7\x02\x08rack-042"  # circuit id, remote id
# Every option the servers are configured to know, and some they are not: a client may ask
# for anything (RFC 2132: subnet mask, router, DNS, domain, broadcast, lease time, server id,
# T1, T2, classless routes).
ASK_EVERYTHING = bytes([1, 3, 6, 15, 28, 51, 54, 58, 59, 121])
CONFIGURED = {SUBNET_MASK: "subnet mask", ROUTER: "router"}  # what every server target has
CLIENT_ONLY = {
    REQUESTED_IP: "requested IP address",
    PARAMETER_LIST: "parameter request list",
    MAX_MESSAGE_SIZE: "maximum message size",
}
NAK_MAY_CARRY = {MESSAGE_TYPE, SERVER_ID, MESSAGE, CLIENT_ID, 60}  # 60: vendor class


def pool_address(case: ServerCase, offset: int) -> str:
    """An address ``offset`` from the pool's first one (negative: below the pool)."""
    return str(ipaddress.IPv4Address(case.plan.pool[0]) + offset)


def request_for(clients: ClientsPeer, client: FakeClient, offer: DhcpPacket, **options):
    """The SELECTING REQUEST answering ``offer`` (same xid)."""
    return clients.message(
        client,
        REQUEST,
        requested=offer.message.yiaddr,
        server_id=offer.message.option_ip(SERVER_ID),
        new_xid=False,
        **options,
    )


def offer_and_ack(
    case: ServerCase, requested: str | None = None, **options
) -> tuple[FakeClient, DhcpPacket, DhcpPacket]:
    """A new client's DISCOVER (asking for ``requested``) and REQUEST (with the options
    given to both), and the server's OFFER and ACK; the scenario of the table 3 checks."""
    clients = case.clients
    client = clients.new_client()
    with case.precondition("an OFFER and an ACK"):
        offer = clients.discover(client, requested=requested, **options)
        clients.send_from(client, request_for(clients, client, offer, **options))
        ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to REQUEST")
    client.address, client.server_id = ack.message.yiaddr, offer.message.option_ip(SERVER_ID)
    clients.arp_for[client.address] = client.mac
    return client, offer, ack


def copied_fields_wrong(reply: DhcpPacket, request_xid: int, client: FakeClient, **more):
    """Table 3's fields a reply copies from the request (and the ones it sets)."""
    msg = reply.message
    expected = {"op": 2, "xid": request_xid, "chaddr": client.mac, "hops": 0, **more}
    return [
        f"{name} {getattr(msg, name)!r} (want {want!r})"
        for name, want in expected.items()
        if getattr(msg, name) != want
    ]


# -- table 3: the fields ----------------------------------------------------------------------


@pytest.mark.rfc("2131", "4.3.1", req="offer-copies-the-discover")
def test_offer_copies_the_discover(dhcp_server: ServerCase) -> None:
    clients = dhcp_server.clients
    client = clients.new_client()
    with dhcp_server.precondition("an OFFER"):
        offer = clients.discover(client, broadcast=True)
    wrong = copied_fields_wrong(
        offer, client.xid, client, flags=FLAG_BROADCAST, giaddr=ZERO, ciaddr=ZERO
    )
    if wrong:
        raise clients.failure("OFFER: " + ", ".join(wrong))


@pytest.mark.rfc("2131", "4.3.1", req="ack-copies-the-request")
def test_ack_copies_the_request(dhcp_server: ServerCase) -> None:
    client, _offer, ack = offer_and_ack(dhcp_server, broadcast=True)
    wrong = copied_fields_wrong(ack, client.xid, client, flags=FLAG_BROADCAST, giaddr=ZERO)
    if wrong:
        raise dhcp_server.clients.failure("ACK: " + ", ".join(wrong))


# -- table 3: the options of OFFER and ACK -----------------------------------------------------


def must_carry(case: ServerCase, reply: DhcpPacket, code: int, name: str) -> None:
    if reply.message.option(code) is None:
        raise case.clients.failure(f"{reply.kind} without the {name} option")


@pytest.mark.rfc("2131", "4.3.1", req="offer-carries-server-id")
def test_offer_carries_the_server_identifier(dhcp_server: ServerCase) -> None:
    _client, offer, _ack = offer_and_ack(dhcp_server)
    must_carry(dhcp_server, offer, SERVER_ID, "server identifier")


@pytest.mark.rfc("2131", "4.3.1", req="ack-carries-server-id")
def test_ack_carries_the_server_identifier(dhcp_server: ServerCase) -> None:
    _client, _offer, ack = offer_and_ack(dhcp_server)
    must_carry(dhcp_server, ack, SERVER_ID, "server identifier")


@pytest.mark.rfc("2131", "4.3.1", req="offer-carries-lease-time")
def test_offer_carries_the_lease_time(dhcp_server: ServerCase) -> None:
    _client, offer, _ack = offer_and_ack(dhcp_server)
    must_carry(dhcp_server, offer, LEASE_TIME, "IP address lease time")


@pytest.mark.rfc("2131", "4.3.1", req="ack-carries-lease-time")
def test_ack_carries_the_lease_time(dhcp_server: ServerCase) -> None:
    _client, _offer, ack = offer_and_ack(dhcp_server)
    must_carry(dhcp_server, ack, LEASE_TIME, "IP address lease time")
    dhcp_server.record("lease time", f"{ack.message.option_u32(LEASE_TIME)} s")


def client_only_options(case: ServerCase, reply: DhcpPacket) -> None:
    present = [name for code, name in CLIENT_ONLY.items() if reply.message.option(code)]
    if present:
        raise case.clients.failure(f"{reply.kind} carries {', '.join(present)}")


MAX_SIZE = ((MAX_MESSAGE_SIZE, (1472).to_bytes(2, "big")),)


@pytest.mark.rfc("2131", "4.3.1", req="offer-omits-client-options")
def test_offer_omits_the_options_only_clients_send(dhcp_server: ServerCase) -> None:
    """The client sent a requested address, a parameter list and a maximum size; none of
    them comes back in the OFFER."""
    wanted = pool_address(dhcp_server, 7)
    _client, offer, _ack = offer_and_ack(dhcp_server, requested=wanted, extra=MAX_SIZE)
    client_only_options(dhcp_server, offer)


@pytest.mark.rfc("2131", "4.3.1", req="ack-omits-client-options")
def test_ack_omits_the_options_only_clients_send(dhcp_server: ServerCase) -> None:
    _client, _offer, ack = offer_and_ack(dhcp_server, extra=MAX_SIZE)
    client_only_options(dhcp_server, ack)


@pytest.mark.rfc("2131", "4.3.1", req="requested-parameters-supplied")
def test_requested_parameters_the_server_has_are_supplied(dhcp_server: ServerCase) -> None:
    """The client asks for every option there is; the ones the server is configured with
    (subnet mask and router, on every server target) are in the ACK."""
    _client, _offer, ack = offer_and_ack(dhcp_server, parameters=ASK_EVERYTHING)
    missing = [name for code, name in CONFIGURED.items() if ack.message.option(code) is None]
    dhcp_server.record("options in the ACK", [code for code, _ in ack.message.options])
    if missing:
        raise dhcp_server.clients.failure(
            f"asked for {list(ASK_EVERYTHING)}, the ACK lacks the configured {', '.join(missing)}"
        )


@pytest.mark.rfc("2131", "4.3.1", req="parameters-only-once")
def test_no_option_is_sent_twice(dhcp_server: ServerCase) -> None:
    _client, offer, ack = offer_and_ack(dhcp_server, parameters=ASK_EVERYTHING)
    for reply in (offer, ack):
        twice = [code for code, n in Counter(c for c, _ in reply.message.options).items() if n > 1]
        if twice:
            raise dhcp_server.clients.failure(f"{reply.kind} carries option(s) {twice} twice")


@pytest.mark.rfc("6842", "3", req="client-id-echoed")
def test_replies_echo_the_client_identifier(dhcp_server: ServerCase) -> None:
    """A client identifier in the request comes back unaltered in the OFFER and the ACK."""
    client, offer, ack = offer_and_ack(dhcp_server)
    for reply in (offer, ack):
        echoed = reply.message.option(CLIENT_ID)
        if echoed != client.client_id:
            shown = "none" if echoed is None else echoed.hex()
            raise dhcp_server.clients.failure(
                f"{reply.kind} returns client identifier {shown}, sent {client.client_id.hex()}"
            )


@pytest.mark.rfc("2131", "4.3.1", req="requested-address-offered")
def test_requested_address_is_offered_when_free(dhcp_server: ServerCase) -> None:
    """A new client asking for a free pool address is offered that address (4.3.1's order).
    Free: no client of this bed's earlier tests was offered it (a server that hashes MACs
    into its pool, as dnsmasq does, spreads them over it)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    wanted = dhcp_server.free_pool_address(range(60, 90))
    if wanted is None:
        raise ScenarioNotReached(
            "a free pool address", "the server handed out every address from 60 to 89 already"
        )
    with dhcp_server.precondition("an OFFER"):
        offer = clients.discover(client, requested=wanted)
    if offer.message.yiaddr != wanted:
        raise clients.failure(f"asked for free {wanted}, offered {offer.message.yiaddr}")


# -- lease timers -----------------------------------------------------------------------------


def timers(reply: DhcpPacket) -> tuple[int | None, int | None, int | None]:
    msg = reply.message
    return msg.option_u32(RENEWAL_T1), msg.option_u32(REBINDING_T2), msg.option_u32(LEASE_TIME)


@pytest.mark.rfc("2131", "4.4.5", req="lease-timers-in-order")
def test_lease_timers_are_in_order_also_after_a_renewal(dhcp_server: ServerCase) -> None:
    """T1 < T2 < lease time in the ACK, and again in the ACK to a renewal. A server that
    sends no T1/T2 is INFO: the options are optional (RFC 2132 9.11, 9.12)."""
    clients = dhcp_server.clients
    client, _offer, ack = offer_and_ack(dhcp_server)
    with dhcp_server.precondition("an ACK to a renewal"):
        clients.send_from(
            client, clients.message(client, REQUEST, ciaddr=client.address), unicast=True
        )
        renewed = clients.expect_reply(
            client, ("DHCPACK",), REPLY_WAIT_S, "reply to RENEWING REQUEST"
        )
    for what, reply in (("ACK", ack), ("ACK to the renewal", renewed)):
        t1, t2, lease = timers(reply)
        dhcp_server.record(f"{what}: T1, T2, lease", f"{t1}, {t2}, {lease} s")
        if t1 is not None and t2 is not None and lease is not None and not t1 < t2 < lease:
            raise clients.failure(f"{what}: T1 {t1} s, T2 {t2} s, lease {lease} s: not in order")
        if lease is not None and any(t is not None and t >= lease for t in (t1, t2)):
            raise clients.failure(
                f"{what}: T1 {t1} s or T2 {t2} s not before the lease's {lease} s"
            )
    if None in timers(ack)[:2]:
        raise NotObserved(
            "the server sends no T1/T2 options; clients use 0.5 and 0.875 of the lease"
        )


# -- delivery (4.1) ---------------------------------------------------------------------------


def sent_to(case: ServerCase, reply: DhcpPacket, ip: str, mac: str, what: str) -> None:
    if (reply.ip_dst, reply.eth_dst) != (ip, mac):
        raise case.clients.failure(
            f"{what}: {reply.kind} went to {reply.ip_dst} at {reply.eth_dst}, not {ip} at {mac}"
        )


@pytest.mark.rfc("2131", "4.1", req="broadcast-bit-honoured")
def test_broadcast_bit_gets_a_broadcast_reply(dhcp_server: ServerCase) -> None:
    client = dhcp_server.clients.new_client()
    with dhcp_server.precondition("an OFFER"):
        offer = dhcp_server.clients.discover(client, broadcast=True)
    sent_to(dhcp_server, offer, ALL_ONES, BROADCAST, "BROADCAST bit set")


@pytest.mark.rfc("2131", "4.1", req="unicast-without-broadcast-bit")
def test_clear_broadcast_bit_gets_unicast_to_yiaddr_at_chaddr(dhcp_server: ServerCase) -> None:
    client = dhcp_server.clients.new_client()
    with dhcp_server.precondition("an OFFER"):
        offer = dhcp_server.clients.discover(client, broadcast=False)
    sent_to(dhcp_server, offer, offer.message.yiaddr, client.mac, "BROADCAST bit clear")


@pytest.mark.rfc("2131", "4.1", req="reply-to-relay")
def test_replies_go_to_the_relay_in_giaddr(dhcp_server: ServerCase) -> None:
    """A DISCOVER and a REQUEST relayed through giaddr: the OFFER and the ACK go to the
    relay's server port (67), with giaddr kept."""
    clients = dhcp_server.clients
    client = clients.new_client()
    with dhcp_server.precondition("replies to relayed messages"):
        offer = clients.discover(client, giaddr=RELAY, what="reply to relayed DISCOVER")
        clients.send_from(client, request_for(clients, client, offer, giaddr=RELAY))
        ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, "reply to relayed REQUEST")
    for reply in (offer, ack):
        if (reply.ip_dst, reply.dport, reply.message.giaddr) != (RELAY, 67, RELAY):
            raise clients.failure(
                f"relayed {reply.kind} went to {reply.ip_dst} port {reply.dport} with giaddr "
                f"{reply.message.giaddr}, not {RELAY} port 67"
            )


@pytest.mark.rfc("2131", "4.1", req="reply-to-ciaddr")
@pytest.mark.parametrize("how", ["renewing", "rebinding"])
def test_extending_request_is_acked_to_ciaddr(dhcp_server: ServerCase, how: str) -> None:
    """RENEWING (unicast from ciaddr) and REBINDING (the same REQUEST broadcast): the ACK is
    unicast to ciaddr."""
    clients = dhcp_server.clients
    client, _offer, _ack = offer_and_ack(dhcp_server)
    with dhcp_server.precondition(f"an ACK to a {how} REQUEST"):
        clients.send_from(
            client,
            clients.message(client, REQUEST, ciaddr=client.address),
            unicast=how == "renewing",
        )
        ack = clients.expect_reply(client, ("DHCPACK",), REPLY_WAIT_S, f"reply to {how} REQUEST")
    sent_to(dhcp_server, ack, client.address, client.mac, how)


# -- selecting, INIT-REBOOT, NAK (3.1, 4.3.2) -------------------------------------------------


@pytest.mark.rfc("2131", "3.1", req="not-selected-stays-silent")
def test_server_not_selected_stays_silent(dhcp_server: ServerCase) -> None:
    """A REQUEST naming another server is a decline of this server's offer: no answer."""
    clients = dhcp_server.clients
    client = clients.new_client()
    with dhcp_server.precondition("an OFFER"):
        offer = clients.discover(client)
    elsewhere = clients.message(
        client, REQUEST, requested=offer.message.yiaddr, server_id=OTHER_SERVER, new_xid=False
    )
    clients.send_from(client, elsewhere)
    clients.expect_no_reply(client, SILENCE_S, f"REQUEST selecting server {OTHER_SERVER}")


def init_reboot(case: ServerCase, requested: str, *, giaddr: str = ZERO) -> DhcpPacket | None:
    """A client that holds a lease restarts and asks (INIT-REBOOT) for ``requested``; the
    server's reply."""
    client, _offer, _ack = offer_and_ack(case)
    return ask_after_reboot(case, client, requested, giaddr=giaddr)


def ask_after_reboot(
    case: ServerCase, client: FakeClient, requested: str, *, giaddr: str = ZERO
) -> DhcpPacket | None:
    """``client``, which holds a lease, restarts and asks (INIT-REBOOT) for ``requested``."""
    case.facts["client"] = client
    clients = case.clients
    message = clients.message(client, REQUEST, requested=requested, giaddr=giaddr)
    clients.send_from(client, message)
    return clients.receive_reply(client, REPLY_WAIT_S)


def nak_for_a_moved_client(case: ServerCase, giaddr: str = ZERO) -> DhcpPacket:
    """The NAK to a client with a lease that reboots on another network, for the tests of
    the NAK's contents; without one they have nothing to inspect."""
    reply = init_reboot(case, WRONG_NETWORK, giaddr=giaddr)
    if reply is None or reply.kind != "DHCPNAK":
        got = "silence" if reply is None else reply.kind
        raise Unsupported(f"no NAK to inspect ({got}; test_init_reboot_on_the_wrong_network...)")
    return reply


@pytest.mark.rfc("2131", "4.3.2", req="init-reboot-wrong-network-nak")
def test_init_reboot_on_the_wrong_network_gets_a_nak(dhcp_server: ServerCase) -> None:
    """A client with a lease reboots on another network (asks for an address outside the
    server's): the server says so with a NAK."""
    reply = init_reboot(dhcp_server, WRONG_NETWORK)
    if reply is None or reply.kind != "DHCPNAK":
        got = "no answer" if reply is None else reply.kind
        raise dhcp_server.clients.failure(f"INIT-REBOOT for {WRONG_NETWORK}: {got}, not a NAK")


@pytest.mark.rfc("2131", "4.3.2", req="init-reboot-wrong-address-nak")
def test_init_reboot_for_an_address_not_its_own_gets_a_nak(dhcp_server: ServerCase) -> None:
    """A client with a lease asks, after a reboot, for another free address of the pool:
    its notion of its address is wrong, and the server says so with a NAK (not an ACK).
    The address is picked once the lease is known: one the server gave to no client of this
    bed (a server that hashes MACs, as dnsmasq does, may have leased this client any of them)."""
    client, _offer, _ack = offer_and_ack(dhcp_server)
    other = dhcp_server.free_pool_address(range(40, 60))
    if other is None:
        raise ScenarioNotReached(
            "an address other than the client's", "the server handed out every one from 40 to 59"
        )
    reply = ask_after_reboot(dhcp_server, client, other)
    if reply is None or reply.kind != "DHCPNAK":
        got = "no answer" if reply is None else f"{reply.kind} for {reply.message.yiaddr}"
        raise dhcp_server.clients.failure(
            f"INIT-REBOOT for {other}, not the client's address: {got}, not a NAK"
        )


@pytest.mark.rfc("2131", "4.3.2", req="init-reboot-stranger-silence")
def test_init_reboot_from_an_unknown_client_gets_silence(dhcp_server: ServerCase) -> None:
    """INIT-REBOOT for an address on the server's network from a client it has no record of:
    the server stays silent (another server may know the client)."""
    clients = dhcp_server.clients
    client = clients.new_client()
    address = pool_address(dhcp_server, 95)
    clients.send_from(client, clients.message(client, REQUEST, requested=address))
    clients.expect_no_reply(client, SILENCE_S, f"INIT-REBOOT for {address} from a stranger")


@pytest.mark.rfc("2131", "4.3.1", req="nak-fields")
def test_nak_fields(dhcp_server: ServerCase) -> None:
    nak = nak_for_a_moved_client(dhcp_server)
    client = dhcp_server.facts["client"]
    wrong = copied_fields_wrong(
        nak, client.xid, client, giaddr=ZERO, yiaddr=ZERO, ciaddr=ZERO, siaddr=ZERO
    )
    if wrong:
        raise dhcp_server.clients.failure("NAK: " + ", ".join(wrong))


@pytest.mark.rfc("2131", "4.3.1", req="nak-carries-server-id")
def test_nak_carries_the_server_identifier(dhcp_server: ServerCase) -> None:
    must_carry(dhcp_server, nak_for_a_moved_client(dhcp_server), SERVER_ID, "server identifier")


@pytest.mark.rfc("2131", "4.3.1", req="nak-carries-nothing-else")
def test_nak_carries_no_lease_and_no_other_options(dhcp_server: ServerCase) -> None:
    msg = nak_for_a_moved_client(dhcp_server).message
    others = sorted({code for code, _ in msg.options} - NAK_MAY_CARRY)
    if others or msg.file or msg.sname:
        extra = f"option(s) {others}" if others else "file or sname"
        raise dhcp_server.clients.failure(f"NAK carries {extra}")


@pytest.mark.rfc("2131", "4.3.2", req="nak-broadcast")
def test_nak_goes_to_the_ip_broadcast_address(dhcp_server: ServerCase) -> None:
    nak = nak_for_a_moved_client(dhcp_server)
    if nak.ip_dst != ALL_ONES:
        raise dhcp_server.clients.failure(f"NAK went to {nak.ip_dst}, not {ALL_ONES}")


@pytest.mark.rfc("2131", "4.1", req="nak-link-broadcast")
def test_nak_goes_to_the_link_broadcast_address(dhcp_server: ServerCase) -> None:
    nak = nak_for_a_moved_client(dhcp_server)
    if nak.eth_dst != BROADCAST:
        raise dhcp_server.clients.failure(f"NAK went to {nak.eth_dst}, not {BROADCAST}")


@pytest.mark.rfc("2131", "4.3.2", req="relayed-nak-sets-broadcast-bit")
def test_nak_through_a_relay_sets_the_broadcast_bit(dhcp_server: ServerCase) -> None:
    """A relayed INIT-REBOOT for an address on another network: the NAK goes to the relay
    with the BROADCAST bit set, so that the relay broadcasts it to the client."""
    nak = nak_for_a_moved_client(dhcp_server, giaddr=RELAY)
    if not nak.message.flags & FLAG_BROADCAST:
        raise dhcp_server.clients.failure(f"relayed NAK with flags 0x{nak.message.flags:04x}")


# -- DECLINE, RELEASE, a REQUEST twice, a restart (4.3.3, 4.3.4) -------------------------------


@pytest.mark.rfc("2131", "4.3.3", req="declined-address-unavailable")
def test_declined_address_goes_to_no_client(dhcp_server: ServerCase) -> None:
    """After a DECLINE, the address is given to nobody: not to a client asking for it, not
    to the client that declined it."""
    clients = dhcp_server.clients
    first, _offer, ack = offer_and_ack(dhcp_server)
    declined = ack.message.yiaddr
    clients.decline(first, declined)
    for who, client in (("another client", clients.new_client()), ("the same client", first)):
        with dhcp_server.precondition(f"an OFFER to {who}"):
            offer = clients.discover(client, requested=declined, what=f"DISCOVER from {who}")
        if offer.message.yiaddr == declined:
            raise clients.failure(f"declined {declined} was offered again, to {who}")


@pytest.mark.rfc("2131", "4.3.4", req="released-client-remembered")
def test_released_address_comes_back_to_its_client(dhcp_server: ServerCase) -> None:
    clients = dhcp_server.clients
    client, _offer, ack = offer_and_ack(dhcp_server)
    clients.release(client)
    with dhcp_server.precondition("an OFFER after the RELEASE"):
        offer = clients.discover(client, what="DISCOVER after RELEASE")
    if offer.message.yiaddr != ack.message.yiaddr:
        raise clients.failure(f"released {ack.message.yiaddr}, then offered {offer.message.yiaddr}")


@pytest.mark.rfc("2131", "2", req="duplicate-request-same-lease")
def test_a_request_sent_twice_gets_the_same_address(dhcp_server: ServerCase) -> None:
    """The client's REQUEST is retransmitted (same xid, as after a lost ACK): the server
    ACKs the same address again."""
    clients = dhcp_server.clients
    client, offer, ack = offer_and_ack(dhcp_server)
    with dhcp_server.precondition("an answer to the repeated REQUEST"):
        clients.send_from(client, request_for(clients, client, offer))
        again = clients.expect_reply(client, ("DHCPACK", "DHCPNAK"), REPLY_WAIT_S, "REQUEST again")
    if again.kind != "DHCPACK" or again.message.yiaddr != ack.message.yiaddr:
        raise clients.failure(
            f"the repeated REQUEST got {again.kind} for {again.message.yiaddr}, the first an ACK "
            f"for {ack.message.yiaddr}"
        )


@pytest.mark.rfc("2131", "3.1", req="leases-survive-restart")
def test_leases_survive_a_killed_and_restarted_server(dhcp_server: ServerCase) -> None:
    """The server is killed (SIGKILL: nothing saved at exit) and started again: the client
    renews its address, and a new client asking for that address does not get it."""
    clients = dhcp_server.clients
    client, _offer, ack = offer_and_ack(dhcp_server)
    address = ack.message.yiaddr
    dhcp_server.restart_after_kill()
    newcomer = clients.new_client()
    with dhcp_server.precondition("an OFFER from the restarted server"):
        offer = clients.discover(newcomer, requested=address, within=4.0, attempts=3)
    if offer.message.yiaddr == address:
        raise clients.failure(f"after the restart {address}, leased before, went to another client")
    clients.send_from(client, clients.message(client, REQUEST, ciaddr=address), unicast=True)
    renewed = clients.receive_reply(client, REPLY_WAIT_S)
    if renewed is None or renewed.kind != "DHCPACK" or renewed.message.yiaddr != address:
        got = "no answer" if renewed is None else f"{renewed.kind} for {renewed.message.yiaddr}"
        raise clients.failure(f"after the restart, renewing {address} got {got}")


# -- INFORM (4.3.5) ---------------------------------------------------------------------------


def inform_ack(case: ServerCase, offset: int) -> tuple[FakeClient, DhcpPacket | None]:
    """A client configured by hand (an address below the pool) sends INFORM to the server;
    its ACK, or None."""
    clients = case.clients
    client = clients.new_client()
    client.address = pool_address(case, offset)
    clients.send_from(client, clients.message(client, INFORM, ciaddr=client.address), unicast=True)
    return client, clients.receive_reply(client, REPLY_WAIT_S)


def the_inform_ack(case: ServerCase) -> DhcpPacket:
    _client, ack = inform_ack(case, -48)
    if ack is None or ack.kind != "DHCPACK":
        raise Unsupported("no ACK to an INFORM to inspect (test_inform_is_answered_to_ciaddr)")
    return ack


@pytest.mark.rfc("2131", "4.3.5", req="inform-answered-to-ciaddr")
def test_inform_is_answered_to_ciaddr(dhcp_server: ServerCase) -> None:
    client, ack = inform_ack(dhcp_server, -50)
    if ack is None or ack.kind != "DHCPACK":
        got = "no answer" if ack is None else ack.kind
        raise dhcp_server.clients.failure(f"INFORM from {client.address}: {got}, not an ACK")
    sent_to(dhcp_server, ack, client.address, client.mac, "INFORM")


@pytest.mark.rfc("2131", "4.3.5", req="inform-ack-carries-server-id")
def test_inform_ack_carries_the_server_identifier(dhcp_server: ServerCase) -> None:
    must_carry(dhcp_server, the_inform_ack(dhcp_server), SERVER_ID, "server identifier")


@pytest.mark.rfc("2131", "4.3.5", req="inform-ack-omits-lease-time")
def test_inform_ack_has_no_lease_time(dhcp_server: ServerCase) -> None:
    ack = the_inform_ack(dhcp_server)
    if ack.message.option(LEASE_TIME) is not None:
        raise dhcp_server.clients.failure(
            f"ACK to INFORM carries a lease time ({ack.message.option_u32(LEASE_TIME)} s)"
        )


@pytest.mark.rfc("2131", "4.3.5", req="inform-ack-leaves-yiaddr-empty")
def test_inform_ack_leaves_yiaddr_empty(dhcp_server: ServerCase) -> None:
    ack = the_inform_ack(dhcp_server)
    if ack.message.yiaddr != ZERO:
        raise dhcp_server.clients.failure(f"ACK to INFORM fills in yiaddr={ack.message.yiaddr}")


# -- relay agent information (RFC 3046 2.2) ---------------------------------------------------


def relayed_offer_with_agent_information(case: ServerCase) -> DhcpPacket:
    clients = case.clients
    client = clients.new_client()
    extra = ((RELAY_AGENT_INFORMATION, AGENT_INFO),)
    with case.precondition("an OFFER to a relayed DISCOVER with option 82"):
        return clients.discover(client, giaddr=RELAY, extra=extra, what="relayed DISCOVER")


@pytest.mark.rfc("3046", "2.2", req="relay-information-echoed")
def test_relay_agent_information_comes_back_unchanged(dhcp_server: ServerCase) -> None:
    """A server that supports option 82 returns it as it came; one that does not return it
    at all does not support it (RFC 3046 lets it), which is UNSUPPORTED."""
    echoed = relayed_offer_with_agent_information(dhcp_server).message.option(
        RELAY_AGENT_INFORMATION
    )
    if echoed is None:
        raise Unsupported("the server does not return the relay agent information option")
    if echoed != AGENT_INFO:
        raise dhcp_server.clients.failure(
            f"relay agent information came back as {echoed.hex()}, sent {AGENT_INFO.hex()}"
        )


@pytest.mark.rfc("3046", "2.2", req="relay-information-last")
def test_relay_agent_information_is_the_last_option(dhcp_server: ServerCase) -> None:
    offer = relayed_offer_with_agent_information(dhcp_server)
    codes = [code for code, _ in offer.message.options]
    if RELAY_AGENT_INFORMATION not in codes:
        raise Unsupported("the server does not return the relay agent information option")
    if codes[-1] != RELAY_AGENT_INFORMATION:
        raise dhcp_server.clients.failure(f"option 82 is not last in the OFFER: {codes}")
