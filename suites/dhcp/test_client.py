"""DHCP clients (RFC 2131 sections 3.1, 4.1, 4.2 and 4.4): the harness is their server.

The harness's server is the reference DhcpServer (correct by construction), with 20 s
leases so that renewal (T1 = 10 s) and rebinding (T2 = 17.5 s) come quickly; a test holds
replies back or makes them wrong where it needs to.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable

import pytest

from harness.dhcp.case import ClientCase
from harness.dhcp.peer import ALL_ONES, ZERO, Seen, ServerPeer
from harness.errors import Unsupported
from harness.tolerance import Tolerance
from reference_impl.wire.dhcp import (
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    REBINDING_T2,
    RELEASE,
    RENEWAL_T1,
    REQUEST,
    REQUESTED_IP,
    SERVER_ID,
)

FIRST_MESSAGE_S = 15.0  # clients wait up to 10 s before their first DISCOVER (4.4.1)
BIND_S = 20.0
DECLINE_WAIT_S = 10.0


def _is(kind: int, *, renewing: bool | None = None) -> Callable[[Seen], bool]:
    def match(seen: Seen) -> bool:
        msg = seen.packet.message
        if msg.message_type != kind:
            return False
        return renewing is None or (msg.ciaddr != ZERO) == renewing

    return match


@pytest.mark.rfc("2131", "4.4.1", level="MUST")
def test_discover_comes_from_0_0_0_0_with_ciaddr_zero(dhcp_client: ClientCase) -> None:
    """Before it has an address, a client broadcasts from 0.0.0.0 with ciaddr 0 (table 5)."""
    dhcp_client.start()
    server = dhcp_client.server
    seen = server.serve_until(_is(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER")
    packet = seen.packet
    wrong = []
    if packet.ip_src != ZERO:
        wrong.append(f"IP source {packet.ip_src}")
    if packet.message.ciaddr != ZERO:
        wrong.append(f"ciaddr {packet.message.ciaddr}")
    if (packet.ip_dst, packet.sport, packet.dport) != (ALL_ONES, 68, 67):
        wrong.append(f"sent to {packet.ip_dst}:{packet.dport} from port {packet.sport}")
    if wrong:
        raise server.failure("DISCOVER: " + "; ".join(wrong))


@pytest.mark.rfc("2131", "4.4.1", level="MUST")
def test_selecting_request_names_the_server_and_the_offered_address(
    dhcp_client: ClientCase,
) -> None:
    """The REQUEST answering an OFFER carries the server identifier and the offered address
    as the requested address, with ciaddr 0."""
    dhcp_client.start()
    server = dhcp_client.server
    seen = server.serve_until(_is(REQUEST), FIRST_MESSAGE_S + 5, "a DHCPREQUEST after the OFFER")
    offer = next(s.packet for s in server.exchanged if s.packet.kind == "DHCPOFFER")
    msg = seen.packet.message
    wrong = []
    if msg.option_ip(SERVER_ID) != server.config.server_id:
        wrong.append(f"server identifier {msg.option_ip(SERVER_ID)}")
    if msg.option_ip(REQUESTED_IP) != offer.message.yiaddr:
        wrong.append(f"requested address {msg.option_ip(REQUESTED_IP)}")
    if msg.ciaddr != ZERO:
        wrong.append(f"ciaddr {msg.ciaddr}")
    if wrong:
        raise server.failure(f"REQUEST for offer {offer.message.yiaddr}: " + "; ".join(wrong))


@pytest.mark.rfc("2131", "4.2", level="MUST")
def test_client_identifier_stays_the_same(dhcp_client: ClientCase) -> None:
    """If a client sends a client identifier, every later message carries the same one."""
    dhcp_client.start()
    server = dhcp_client.server
    server.wait_bound(BIND_S)
    sent = [s.packet.message for s in server.exchanged if not s.from_tester]
    ids = {msg.option(CLIENT_ID) for msg in sent}
    if ids == {None}:
        raise Unsupported("the client sends no client identifier (it is optional)")
    if len(ids) != 1:
        shown = ", ".join("none" if i is None else i.hex() for i in ids)
        raise server.failure(f"client identifiers differ between messages: {shown}")


@pytest.mark.rfc("2131", "4.1", level="MUST")
def test_replies_with_another_xid_are_ignored(dhcp_client: ClientCase) -> None:
    """An OFFER whose xid is not the DISCOVER's is not taken: the client requests the
    address of the OFFER that matches."""
    dhcp_client.start()
    server = dhcp_client.server
    discover = server.serve_until(_is(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER").packet
    (reply,) = server.server.handle(discover.message, now=time.monotonic_ns() // 1000)
    decoy_address = "198.18.0.222"
    decoy = dataclasses.replace(
        reply.message, xid=discover.message.xid ^ 0x5A5A5A5A, yiaddr=decoy_address
    )
    server.send(dataclasses.replace(server.reply_packet(discover, reply), message=decoy))
    server.answering = lambda packet: False
    for seen in server.collect(1.5):
        if seen.packet.message.option_ip(REQUESTED_IP) == decoy_address:
            raise server.failure(f"the client took an OFFER with xid 0x{decoy.xid:08x}")
    server.answering = lambda packet: True
    server.send(server.reply_packet(discover, reply))
    request = server.serve_until(_is(REQUEST), 10, "a DHCPREQUEST for the real offer").packet
    if request.message.option_ip(REQUESTED_IP) != reply.message.yiaddr:
        raise server.failure(
            f"REQUEST asks for {request.message.option_ip(REQUESTED_IP)}, "
            f"not the matching offer's {reply.message.yiaddr}"
        )


@pytest.mark.rfc("2131", "4.1", level="MUST")
def test_xid_is_new_after_a_restart(dhcp_client: ClientCase) -> None:
    """xids are chosen so that they do not repeat: a restarted client picks another."""
    server = dhcp_client.server
    xids = []
    for attempt in range(2):
        dhcp_client.start()
        seen = server.serve_until(_is(DISCOVER), FIRST_MESSAGE_S, f"DISCOVER (start {attempt + 1})")
        xids.append(seen.packet.message.xid)
        dhcp_client.client.stop()
        dhcp_client.client.wipe_state()
    dhcp_client.measure("xids", ", ".join(f"0x{x:08x}" for x in xids))
    if xids[0] == xids[1]:
        raise server.failure(f"both starts used xid 0x{xids[0]:08x}")


@pytest.mark.rfc("950", "2.1", level="MUST")
def test_bound_client_applies_the_address_and_subnet_mask(dhcp_client: ClientCase) -> None:
    """After the ACK the interface has the address with the prefix the subnet mask option
    gave (a /24 here), which is what makes its on-link decisions right."""
    dhcp_client.start()
    server = dhcp_client.server
    ack = server.wait_bound(BIND_S)
    want = f"{ack.message.yiaddr}/{server.config.network.prefixlen}"
    addresses = _wait_for_address(dhcp_client, server, want, 10.0)
    if want not in addresses:
        raise server.failure(f"interface has {addresses or 'no address'}, expected {want}")


@pytest.mark.rfc("2131", "4.4.1", level="SHOULD")
def test_address_in_use_is_checked_and_declined(dhcp_client: ClientCase) -> None:
    """Another host already uses the address the server gives: the client finds out (ARP)
    and sends DECLINE for it, naming the server."""
    server = dhcp_client.server
    taken = server.config.pool[0]  # the reference server's first offer
    squatter = dhcp_client.add_squatter(taken)
    dhcp_client.measure("squatter", f"{taken} at {squatter}")
    dhcp_client.start()
    server.wait_bound(BIND_S)
    seen = server.serve_until(_is(DECLINE), 10.0, f"a DHCPDECLINE for {taken} (held by {squatter})")
    msg = seen.packet.message
    if msg.option_ip(REQUESTED_IP) != taken or msg.option_ip(SERVER_ID) != server.config.server_id:
        raise server.failure(
            f"DECLINE names {msg.option_ip(REQUESTED_IP)} and server {msg.option_ip(SERVER_ID)}"
        )


@pytest.mark.rfc("2131", "3.1", level="SHOULD")
def test_client_waits_ten_seconds_after_decline(
    dhcp_client: ClientCase, tolerance: Tolerance
) -> None:
    """After a DECLINE the client starts again no sooner than ten seconds later."""
    server = dhcp_client.server
    dhcp_client.add_squatter(server.config.pool[0])
    dhcp_client.start()
    server.wait_bound(BIND_S)
    try:
        decline = server.serve_until(_is(DECLINE), 10.0, "a DHCPDECLINE")
    except AssertionError:
        raise Unsupported("the client sent no DECLINE (see the address-in-use test)") from None
    restart = server.serve_until(_is(DISCOVER), DECLINE_WAIT_S + 20, "a DISCOVER after DECLINE")
    gap = (restart.ts_ns - decline.ts_ns) / 1e9
    dhcp_client.measure("DECLINE to next DISCOVER", f"{gap:.3f} s")
    if gap < DECLINE_WAIT_S - tolerance.slack(DECLINE_WAIT_S):
        raise server.failure(f"DISCOVER {gap:.3f} s after DECLINE (at least 10 s expected)")


def _bound_and_released(dhcp_client: ClientCase) -> tuple[str, Seen]:
    dhcp_client.start()
    server = dhcp_client.server
    ack = server.wait_bound(BIND_S)
    address = ack.message.yiaddr
    _wait_for_address(dhcp_client, server, address, 10.0)
    dhcp_client.client.release()
    return address, server.serve_until(_is(RELEASE), 10.0, "a DHCPRELEASE")


@pytest.mark.rfc("2131", "4.4.1", level="MUST")
def test_release_carries_ciaddr_and_the_server_identifier(dhcp_client: ClientCase) -> None:
    """Table 5: RELEASE has ciaddr = the address, the server identifier, and no requested
    address."""
    address, seen = _bound_and_released(dhcp_client)
    msg = seen.packet.message
    wrong = []
    if msg.ciaddr != address:
        wrong.append(f"ciaddr {msg.ciaddr}")
    if msg.option_ip(SERVER_ID) != dhcp_client.server.config.server_id:
        wrong.append(f"server identifier {msg.option_ip(SERVER_ID)}")
    if msg.option(REQUESTED_IP) is not None:
        wrong.append(f"requested address {msg.option_ip(REQUESTED_IP)}")
    if wrong:
        raise dhcp_client.server.failure(f"RELEASE of {address}: " + "; ".join(wrong))


@pytest.mark.rfc("2131", "4.4.4", level="SHOULD")
def test_release_is_unicast_to_the_server(dhcp_client: ClientCase) -> None:
    _address, seen = _bound_and_released(dhcp_client)
    server = dhcp_client.server
    want = (server.config.server_id, server.mac)
    if (seen.packet.ip_dst, seen.packet.eth_dst) != want:
        raise server.failure(
            f"RELEASE went to {seen.packet.ip_dst} at {seen.packet.eth_dst}, "
            f"not {want[0]} at {want[1]}"
        )


@pytest.mark.rfc("2131", "4.4.5", level="MUST")
def test_renews_at_t1_by_unicast(dhcp_client: ClientCase, tolerance: Tolerance) -> None:
    """At T1 the client unicasts a REQUEST to its server with ciaddr set, no server
    identifier and no requested address."""
    dhcp_client.start()
    server = dhcp_client.server
    ack = server.wait_bound(BIND_S)
    t1 = ack.message.option_u32(RENEWAL_T1) or 0
    renew = server.serve_until(_is(REQUEST, renewing=True), t1 + 8, "a RENEWING DHCPREQUEST")
    after = (renew.ts_ns - server.sent_at(ack)) / 1e9
    dhcp_client.measure("RENEW after the ACK", f"{after:.3f} s (T1 = {t1} s)")
    _check_extension(server, renew, ack.message.yiaddr, unicast=True)
    _check_time(server, "RENEW", after, t1, 0.0, tolerance)


@pytest.mark.rfc("2131", "4.4.5", level="MUST")
def test_rebinds_at_t2_by_broadcast(dhcp_client: ClientCase, tolerance: Tolerance) -> None:
    """The server ignores the renewals; at T2 the client broadcasts its REQUEST."""
    dhcp_client.start()
    server = dhcp_client.server
    ack = server.wait_bound(BIND_S)
    t2 = ack.message.option_u32(REBINDING_T2) or 0
    server.answering = lambda packet: packet.message.ciaddr == ZERO  # silence for renewals
    rebind = server.serve_until(
        lambda s: _is(REQUEST, renewing=True)(s) and s.packet.ip_dst == ALL_ONES,
        t2 + 6,
        "a REBINDING (broadcast) DHCPREQUEST",
    )
    after = (rebind.ts_ns - server.sent_at(ack)) / 1e9
    dhcp_client.measure("REBIND after the ACK", f"{after:.3f} s (T2 = {t2} s)")
    _check_extension(server, rebind, ack.message.yiaddr, unicast=False)
    t1 = ack.message.option_u32(RENEWAL_T1) or 0
    _check_time(server, "REBIND", after, t2, t1, tolerance)


@pytest.mark.rfc("2131", "4.1", level="SHOULD")
def test_discover_is_retransmitted_with_exponential_backoff(
    dhcp_client: ClientCase, tolerance: Tolerance
) -> None:
    """No server answers: the DISCOVER is sent again about 4 s later, then about 8 s after
    that (each +-1 s)."""
    server = dhcp_client.server
    server.answering = lambda packet: False
    dhcp_client.start()
    first = server.serve_until(_is(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER")
    times = [first.ts_ns]
    deadline = time.monotonic() + 4 + 8 + 4
    while len(times) < 3 and time.monotonic() < deadline:
        for seen in server.collect(min(1.0, max(0.0, deadline - time.monotonic()))):
            if seen.packet.message.message_type == DISCOVER:
                times.append(seen.ts_ns)
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(times)]
    dhcp_client.measure("gaps between DISCOVERs", ", ".join(f"{g:.3f} s" for g in gaps))
    if len(gaps) < 2:
        raise server.failure(f"{len(times)} DISCOVER(s) in {4 + 8 + 4} s of silence")
    slack = tolerance.slack(2.0)  # the RFC's window is 2 s wide (+-1 s)
    for gap, want in zip(gaps, (4.0, 8.0), strict=False):
        if not want - 1.0 - slack <= gap <= want + 1.0 + slack:
            raise server.failure(
                f"retransmission gaps {', '.join(f'{g:.3f}' for g in gaps)} s; "
                "RFC 2131 4.1 suggests 4 +- 1 s, then 8 +- 1 s"
            )


def _wait_for_address(case: ClientCase, server: ServerPeer, want: str, within: float) -> list[str]:
    deadline = time.monotonic() + within
    addresses = case.interface_addresses()
    while not any(a == want or a.split("/")[0] == want for a in addresses):
        if time.monotonic() > deadline:
            break
        server.collect(0.2)
        addresses = case.interface_addresses()
    return addresses


def _check_extension(server: ServerPeer, seen: Seen, address: str, *, unicast: bool) -> None:
    msg, packet = seen.packet.message, seen.packet
    wrong = []
    if msg.ciaddr != address:
        wrong.append(f"ciaddr {msg.ciaddr}")
    if msg.option(SERVER_ID) is not None:
        wrong.append("a server identifier")
    if msg.option(REQUESTED_IP) is not None:
        wrong.append("a requested address")
    if unicast and (packet.ip_dst, packet.eth_dst) != (server.config.server_id, server.mac):
        wrong.append(f"sent to {packet.ip_dst} at {packet.eth_dst}, not unicast to the server")
    if not unicast and packet.ip_dst != ALL_ONES:
        wrong.append(f"sent to {packet.ip_dst}, not broadcast")
    if wrong:
        raise server.failure("REQUEST extending the lease: " + "; ".join(wrong))


def _check_time(
    server: ServerPeer, what: str, after: float, due: float, earliest: float, tolerance: Tolerance
) -> None:
    """Not later than ``due`` (widened by the tolerance), not before ``earliest``. Early is
    allowed: a client MAY renew before T1 (4.3.2), and T1/T2 may carry random fuzz (4.4.5)."""
    slack = max(tolerance.slack(due), 1.0)  # clients keep whole-second timers
    if not earliest - slack <= after <= due + slack:
        raise server.failure(
            f"{what} {after:.3f} s after the ACK; due at {due} s "
            f"(accepted: {max(0.0, earliest - slack):.1f} to {due + slack:.1f} s)"
        )
