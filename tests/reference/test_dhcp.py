"""The reference DHCP server and client (RFC 2131), alone and talking to each other."""

import itertools

import pytest

from reference_impl.dhcp.client import ClientState, DhcpClient
from reference_impl.dhcp.server import (
    INFINITE,
    DhcpServer,
    MemoryLeaseStore,
    ServerConfig,
    client_key,
)
from reference_impl.wire.dhcp import (
    ACK,
    BOOTREQUEST,
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    FLAG_BROADCAST,
    LEASE_TIME,
    MAX_MESSAGE_SIZE,
    MESSAGE_TYPE,
    NAK,
    OFFER,
    PARAMETER_LIST,
    REQUEST,
    REQUESTED_IP,
    SERVER_ID,
    SUBNET_MASK,
    DhcpMessage,
)

S = 1_000_000
SERVER = "198.18.0.1"
CONFIG = ServerConfig(
    server_id=SERVER,
    subnet="198.18.0.0/24",
    pool=("198.18.0.100", "198.18.0.103"),
    lease_time_s=600,
    router="198.18.0.254",
)
MACS = [f"02:00:00:00:00:{i:02x}" for i in range(1, 10)]


def ip(text):
    return bytes(int(x) for x in text.split("."))


def msg(kind, mac=MACS[0], xid=7, **kw):
    options = [(MESSAGE_TYPE, bytes([kind]))]
    for code, value in kw.pop("options", ()):
        options.append((code, value))
    return DhcpMessage(BOOTREQUEST, xid, mac, tuple(options), **kw)


def dora(server, mac=MACS[0], now=0, requested=None):
    opts = [(REQUESTED_IP, ip(requested))] if requested else []
    (offer,) = server.handle(msg(DISCOVER, mac, options=opts), now=now)
    address = offer.message.yiaddr
    (ack,) = server.handle(
        msg(REQUEST, mac, options=[(SERVER_ID, ip(SERVER)), (REQUESTED_IP, ip(address))]), now=now
    )
    return offer, ack


def test_discover_offer_request_ack_copies_the_fields_and_sets_the_options():
    server = DhcpServer(CONFIG)
    offer, ack = dora(server)
    for reply, kind in ((offer.message, OFFER), (ack.message, ACK)):
        assert reply.message_type == kind and reply.op == 2
        assert (reply.xid, reply.chaddr, reply.giaddr) == (7, MACS[0], "0.0.0.0")
        assert reply.option_ip(SERVER_ID) == SERVER
        assert reply.option_u32(LEASE_TIME) == 600
        assert reply.option_ip(SUBNET_MASK) == "255.255.255.0"
        for forbidden in (REQUESTED_IP, PARAMETER_LIST, MAX_MESSAGE_SIZE):
            assert reply.option(forbidden) is None  # RFC 2131 table 3: MUST NOT
        assert reply.option(CLIENT_ID) is None  # none was sent, so none is echoed
    assert offer.message.yiaddr == ack.message.yiaddr == "198.18.0.100"


def test_replies_go_where_section_4_1_says():
    server = DhcpServer(CONFIG)
    (offer,) = server.handle(msg(DISCOVER), now=0)
    assert (offer.destination.ip, offer.destination.mac) == ("198.18.0.100", MACS[0])
    (bcast,) = server.handle(msg(DISCOVER, MACS[1], flags=FLAG_BROADCAST), now=0)
    assert bcast.destination.ip == "255.255.255.255"
    (relayed,) = server.handle(msg(DISCOVER, MACS[2], giaddr="198.18.5.1"), now=0)
    assert (relayed.destination.ip, relayed.destination.port) == ("198.18.5.1", 67)


def test_requested_address_is_honoured_when_free():
    offer, _ = dora(DhcpServer(CONFIG), requested="198.18.0.102")
    assert offer.message.yiaddr == "198.18.0.102"


def test_reservation_gives_the_same_address_manual_allocation():
    config = ServerConfig(**{**CONFIG.__dict__, "reservations": {MACS[3]: "198.18.0.50"}})
    _offer, ack = dora(DhcpServer(config), MACS[3])
    assert ack.message.yiaddr == "198.18.0.50"


def test_infinite_lease_is_automatic_allocation():
    config = ServerConfig(**{**CONFIG.__dict__, "lease_time_s": None})
    _, ack = dora(DhcpServer(config))
    assert ack.message.option_u32(LEASE_TIME) == INFINITE


def test_request_for_another_server_is_met_with_silence_and_frees_the_offer():
    server = DhcpServer(CONFIG)
    server.handle(msg(DISCOVER), now=0)
    assert (
        server.handle(
            msg(
                REQUEST, options=[(SERVER_ID, ip("198.18.0.9")), (REQUESTED_IP, ip("198.18.0.100"))]
            ),
            now=0,
        )
        == []
    )
    assert server.store.by_address("198.18.0.100").state == "released"


def test_init_reboot_on_the_wrong_network_is_nakked_and_unknown_client_gets_silence():
    server = DhcpServer(CONFIG)
    (nak,) = server.handle(msg(REQUEST, options=[(REQUESTED_IP, ip("10.0.0.5"))]), now=0)
    assert nak.message.message_type == NAK and nak.destination.ip == "255.255.255.255"
    assert nak.message.option(LEASE_TIME) is None and nak.message.yiaddr == "0.0.0.0"
    assert server.handle(msg(REQUEST, options=[(REQUESTED_IP, ip("198.18.0.100"))]), now=0) == []


def test_renew_extends_and_rebind_of_unknown_lease_is_silent():
    server = DhcpServer(CONFIG)
    dora(server)
    (ack,) = server.handle(msg(REQUEST, ciaddr="198.18.0.100", xid=8), now=300 * S)
    assert ack.message.message_type == ACK and ack.destination.ip == "198.18.0.100"
    assert server.store.by_address("198.18.0.100").expires_us == 900 * S
    assert server.handle(msg(REQUEST, MACS[5], ciaddr="198.18.0.101"), now=301 * S) == []


def test_declined_address_goes_to_nobody_during_probation():
    server = DhcpServer(CONFIG)
    dora(server)
    server.handle(
        msg(DECLINE, options=[(REQUESTED_IP, ip("198.18.0.100")), (SERVER_ID, ip(SERVER))]),
        now=10 * S,
    )
    offered = {dora(server, mac, now=20 * S)[1].message.yiaddr for mac in MACS[1:4]}
    assert "198.18.0.100" not in offered
    server.on_timer(now=10 * S + CONFIG.decline_probation_s * S)
    assert server.store.by_address("198.18.0.100").state == "expired"


def test_released_address_is_reusable_and_the_same_client_gets_it_back():
    server = DhcpServer(CONFIG)
    _, ack = dora(server)
    server.handle(msg(7, ciaddr=ack.message.yiaddr), now=1 * S)  # 7 = DHCPRELEASE
    assert server.store.by_address(ack.message.yiaddr).state == "released"
    _, again = dora(server, now=2 * S)
    assert again.message.yiaddr == ack.message.yiaddr


def test_pool_exhaustion_reuses_released_addresses_then_stays_silent():
    server = DhcpServer(CONFIG)
    for mac in MACS[:4]:
        dora(server, mac)
    assert server.handle(msg(DISCOVER, MACS[5]), now=0) == []
    server.handle(msg(7, MACS[0], ciaddr="198.18.0.100"), now=1)
    (offer,) = server.handle(msg(DISCOVER, MACS[5]), now=2)
    assert offer.message.yiaddr == "198.18.0.100"


def test_lease_expires_at_its_time():
    server = DhcpServer(CONFIG)
    dora(server)
    assert server.next_timer() == 600 * S
    server.on_timer(now=600 * S)
    assert server.store.by_address("198.18.0.100").state == "expired"


def test_inform_answers_configuration_without_lease_or_address():
    (ack,) = DhcpServer(CONFIG).handle(msg(8, ciaddr="198.18.0.77"), now=0)
    assert ack.message.message_type == ACK and ack.message.yiaddr == "0.0.0.0"
    assert ack.message.option(LEASE_TIME) is None and ack.destination.ip == "198.18.0.77"


def test_client_key_prefers_the_client_identifier():
    assert client_key(msg(DISCOVER, options=[(CLIENT_ID, b"\x01abc")])) == "id:01616263"
    assert client_key(msg(DISCOVER)) == "hw:" + MACS[0]


# -- the client ------------------------------------------------------------------------


def make_client(mac=MACS[0]):
    xids = itertools.count(1000)
    return DhcpClient(mac, xid=lambda: next(xids), jitter=lambda: 0.0)


def exchange(client, server, outgoing, now):
    """Deliver the client's messages to the server and the replies back; return replies."""
    for out in outgoing:
        for reply in server.handle(DhcpMessage.parse(out.message.emit()), now=now):
            outgoing = client.receive(DhcpMessage.parse(reply.message.emit()), now=now)
            exchange(client, server, outgoing, now)


def bound_client(server, now=0):
    client = make_client()
    exchange(client, server, client.start(now=now), now)
    assert client.state == ClientState.CHECKING
    client.arp_result(conflict=False, now=now)
    return client


def test_client_dora_then_bound_with_t1_timer():
    client = bound_client(DhcpServer(CONFIG))
    assert client.state == ClientState.BOUND and client.binding.address == "198.18.0.100"
    assert client.next_timer() == 300 * S  # T1 = half the lease


@pytest.mark.parametrize("kind", [DISCOVER, REQUEST])
def test_server_echoes_the_client_identifier(kind):
    """RFC 6842 section 3: the client identifier comes back unaltered (in a NAK too)."""
    server = DhcpServer(CONFIG)
    options = [(CLIENT_ID, b"\x01\x02\x00\x00\x00\x00\x01")]
    if kind == REQUEST:
        options.append((REQUESTED_IP, ip("10.9.9.9")))  # INIT-REBOOT, wrong network: NAK
    (reply,) = server.handle(msg(kind, options=options), now=0)
    assert reply.message.option(CLIENT_ID) == options[0][1]


def test_client_lease_times_run_from_when_the_request_was_sent():
    """4.4.1: the lease (so T1) counts from the REQUEST, not from the end of the ARP check."""
    server = DhcpServer(CONFIG)
    client = make_client()
    exchange(client, server, client.start(now=0), 0)
    client.arp_result(conflict=False, now=2 * S)  # the ARP check took two seconds
    assert client.state == ClientState.BOUND
    assert client.next_timer() == 300 * S and client.binding.bound_at_us == 0


def test_client_messages_before_binding_come_from_0_0_0_0_with_a_constant_client_id():
    client = make_client()
    (discover,) = client.start(now=0)
    assert discover.source_ip == "0.0.0.0" and discover.message.ciaddr == "0.0.0.0"
    (again,) = client.on_timer(now=client.next_timer())
    assert again.message.option(CLIENT_ID) == discover.message.option(CLIENT_ID)


def test_client_retransmits_with_exponential_backoff():
    client = make_client()
    client.start(now=0)
    times = [0]
    for _ in range(6):
        times.append(client.next_timer())
        client.on_timer(now=times[-1])
    gaps = [(b - a) // S for a, b in itertools.pairwise(times)]
    assert gaps == [4, 8, 16, 32, 64, 64]


def test_client_ignores_replies_to_other_transactions():
    client = make_client()
    client.start(now=0)
    stray = DhcpMessage(2, 12345, MACS[0], ((MESSAGE_TYPE, bytes([OFFER])),), yiaddr="198.18.0.5")
    assert client.receive(stray, now=1) == [] and client.state == ClientState.SELECTING


def test_client_declines_on_arp_conflict_and_waits_ten_seconds():
    server = DhcpServer(CONFIG)
    client = make_client()
    exchange(client, server, client.start(now=0), 0)
    (decline,) = client.arp_result(conflict=True, now=5 * S)
    assert decline.message.message_type == DECLINE
    assert decline.message.option_ip(REQUESTED_IP) == "198.18.0.100"
    assert client.state == ClientState.INIT and client.next_timer() == 15 * S


def test_client_renews_by_unicast_at_t1_and_rebinds_by_broadcast_at_t2():
    server = DhcpServer(CONFIG)
    client = bound_client(server)
    (renew,) = client.on_timer(now=300 * S)
    assert client.state == ClientState.RENEWING
    assert (renew.destination.ip, renew.source_ip) == (SERVER, "198.18.0.100")
    assert renew.message.ciaddr == "198.18.0.100" and renew.message.option(SERVER_ID) is None
    (rebind,) = client.on_timer(now=525 * S)  # T2 = 7/8 of the lease
    assert client.state == ClientState.REBINDING and rebind.destination.ip == "255.255.255.255"
    exchange(client, server, [rebind], 525 * S)
    assert client.state == ClientState.BOUND


def test_client_takes_t1_and_t2_from_the_server_options():
    """The T1 and T2 options (RFC 2132 9.11/9.12) set when RENEWING and REBINDING begin;
    between them the renewal is retried after half the time left, never sooner than 60 s,
    but never later than T2 (4.4.5)."""
    import dataclasses

    server = DhcpServer(dataclasses.replace(CONFIG, lease_time_s=120, t1_s=30, t2_s=75))
    client = bound_client(server)
    assert client.next_timer() == 30 * S
    (renew,) = client.on_timer(now=30 * S)
    assert client.state == ClientState.RENEWING and renew.destination.ip == SERVER
    assert client.next_timer() == 75 * S
    (rebind,) = client.on_timer(now=75 * S)
    assert client.state == ClientState.REBINDING and rebind.destination.ip == "255.255.255.255"


def test_server_refuses_timers_out_of_order():
    import dataclasses

    with pytest.raises(ValueError, match=r"T1 80 < T2 75 < lease time 120"):
        DhcpServer(dataclasses.replace(CONFIG, lease_time_s=120, t1_s=80, t2_s=75))


def test_client_release_is_unicast_to_the_server():
    client = bound_client(DhcpServer(CONFIG))
    (release,) = client.release(now=10 * S)
    assert release.destination.ip == SERVER and release.message.ciaddr == "198.18.0.100"
    assert client.state == ClientState.INIT


@pytest.mark.parametrize("known", [True, False])
def test_client_init_reboot_gets_its_address_back_or_starts_over(known):
    server = DhcpServer(CONFIG, MemoryLeaseStore())
    if known:
        bound_client(server)
    client = make_client()
    exchange(client, server, client.start(now=10 * S, previous="198.18.0.100"), 10 * S)
    if known:
        assert client.state == ClientState.CHECKING
    else:
        assert client.state == ClientState.REBOOTING  # silence: it will time out and retry


def test_a_nak_through_a_relay_has_the_broadcast_bit_and_the_agent_information_last():
    """RFC 2131 4.3.2 (the relay must broadcast a NAK) and RFC 3046 2.2 (option 82 comes back
    unchanged, last)."""
    server = DhcpServer(CONFIG)
    agent = (82, b"\x01\x02ab")
    relayed = msg(REQUEST, options=[(REQUESTED_IP, ip("10.9.9.9")), agent], giaddr="198.18.0.253")
    (nak,) = server.handle(relayed, now=0)
    assert nak.message.flags & FLAG_BROADCAST and nak.destination.ip == "198.18.0.253"
    assert nak.message.options[-1] == agent
    offered = msg(DISCOVER, options=[agent], giaddr="198.18.0.253")
    (offer,) = server.handle(offered, now=0)
    assert offer.message.options[-1] == agent
