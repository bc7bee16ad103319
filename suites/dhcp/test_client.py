"""DHCP clients (RFC 2131 sections 3.1, 3.5, 4.1, 4.2 and 4.4): the harness is their server.

The harness's server is the reference DhcpServer (correct by construction) handing out
120-s leases with T1 = 30 s and T2 = 75 s, long enough that no client's own floors and
retransmission intervals decide a verdict. Each check rests on one sentence of the RFC and
has its level (see the catalogue); a check whose subject never appeared says so (INFO or
UNSUPPORTED) instead of judging a packet that was not sent. The long scenarios (a lease's
whole life, a DISCOVER backoff, releases, an address conflict) are recorded once per client
in the background and judged by several tests each.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable

import pytest

from harness.core.clock import Deadline, now_us
from harness.core.errors import ConformanceFailure, NotObserved, ScenarioNotReached, Unsupported
from harness.core.tolerance import Tolerance
from harness.dhcp.case import CLIENT_LEASE_S, CLIENT_T1_S, CLIENT_T2_S, ClientCase
from harness.dhcp.peer import ALL_ONES, ZERO, Seen, ServerPeer
from harness.dhcp.recorded import RecordingView, scenario
from reference_impl.wire.dhcp import (
    CLIENT_ID,
    DECLINE,
    DISCOVER,
    MAX_MESSAGE_SIZE,
    PARAMETER_LIST,
    RELEASE,
    REQUEST,
    REQUESTED_IP,
    SERVER_ID,
)

FIRST_MESSAGE_S = 15.0  # clients wait up to 10 s before their first DISCOVER (4.4.1)
BIND_S = 30.0
CLIENT_CLOCK_S = 2.0  # clients keep whole-second timers; the interface is read every 0.5 s
EXPIRY_WATCH_S = 15.0  # how long after the lease's end the client is watched
BACKOFF_WATCH_S = 80.0  # 4 + 8 + 16 + 32 s after a first DISCOVER that may wait 10 s
RELEASE_ATTEMPTS, RELEASES_WANTED = 20, 3
DECLINE_WAIT_S = 10.0
# A backoff shows that it grows when a delay reaches this, three times the first or more: the
# RFC's doubling from 4 s reaches 32 +- 1 s by the fourth delay (inside BACKOFF_WATCH_S). A
# schedule capped lower never does (dhclient's 15 s backoff cutoff keeps every delay in
# 7.5-22.5 s), whatever its random draws: the verdict does not flip from run to run.
GROWN_S = 24.0


def is_kind(kind: int, *, extending: bool | None = None) -> Callable[[Seen], bool]:
    """A client message of ``kind``; ``extending``: with ciaddr set (RENEWING, REBINDING)."""

    def match(seen: Seen) -> bool:
        msg = seen.packet.message
        if msg.message_type != kind:
            return False
        return extending is None or (msg.ciaddr != ZERO) == extending

    return match


def wrong_fields(msg, **expected) -> list[str]:
    return [
        f"{name} {getattr(msg, name)} (want {want})"
        for name, want in expected.items()
        if getattr(msg, name) != want
    ]


# -- the first messages ---------------------------------------------------------------------


def first_discover(dhcp_client: ClientCase) -> Seen:
    dhcp_client.start()
    with dhcp_client.precondition("a first DISCOVER"):
        return dhcp_client.server.serve_until(is_kind(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER")


@pytest.mark.rfc("2131", "4.4.1", req="discover-ciaddr-zero")
def test_discover_has_ciaddr_zero(dhcp_client: ClientCase) -> None:
    packet = first_discover(dhcp_client).packet
    if packet.message.ciaddr != ZERO:
        raise dhcp_client.server.failure(f"DISCOVER with ciaddr {packet.message.ciaddr}")


@pytest.mark.rfc("2131", "4.1", req="discover-from-zero")
def test_discover_comes_from_0_0_0_0_to_the_server_port(dhcp_client: ClientCase) -> None:
    """Before it has an address a client broadcasts from 0.0.0.0, port 68 to port 67."""
    packet = first_discover(dhcp_client).packet
    if (packet.ip_src, packet.ip_dst, packet.sport, packet.dport) != (ZERO, ALL_ONES, 68, 67):
        raise dhcp_client.server.failure(
            f"DISCOVER from {packet.ip_src}:{packet.sport} to {packet.ip_dst}:{packet.dport}"
        )


def selecting_request(dhcp_client: ClientCase) -> tuple[Seen, Seen]:
    """(the OFFER the harness sent, the REQUEST that answers it)."""
    dhcp_client.start()
    server = dhcp_client.server
    with dhcp_client.precondition("a REQUEST answering our OFFER"):
        request = server.serve_until(is_kind(REQUEST), FIRST_MESSAGE_S + 5, "a DHCPREQUEST")
    offer = next(s for s in server.exchanged if s.packet.kind == "DHCPOFFER")
    return offer, request


@pytest.mark.rfc("2131", "3.1", req="request-names-the-server")
def test_selecting_request_names_the_server(dhcp_client: ClientCase) -> None:
    _offer, request = selecting_request(dhcp_client)
    got = request.packet.message.option_ip(SERVER_ID)
    if got != dhcp_client.server.config.server_id:
        raise dhcp_client.server.failure(f"REQUEST names server {got}")


@pytest.mark.rfc("2131", "3.1", req="request-names-the-offered-address")
def test_selecting_request_names_the_offered_address(dhcp_client: ClientCase) -> None:
    offer, request = selecting_request(dhcp_client)
    got = request.packet.message.option_ip(REQUESTED_IP)
    if got != offer.packet.message.yiaddr:
        raise dhcp_client.server.failure(
            f"REQUEST asks for {got}, the OFFER was {offer.packet.message.yiaddr}"
        )


@pytest.mark.rfc("2131", "4.3.2", req="selecting-request-ciaddr-zero")
def test_selecting_request_has_ciaddr_zero(dhcp_client: ClientCase) -> None:
    _offer, request = selecting_request(dhcp_client)
    if request.packet.message.ciaddr != ZERO:
        raise dhcp_client.server.failure(f"REQUEST with ciaddr {request.packet.message.ciaddr}")


def bound(dhcp_client: ClientCase):
    dhcp_client.start()
    with dhcp_client.precondition("a bound client"):
        return dhcp_client.server.wait_bound(BIND_S)


@pytest.mark.rfc("2131", "4.2", req="client-id-constant")
def test_client_identifier_stays_the_same(dhcp_client: ClientCase) -> None:
    """If a client sends a client identifier, every later message carries the same one."""
    bound(dhcp_client)
    sent = [s.packet.message for s in dhcp_client.server.exchanged if not s.from_tester]
    ids = {msg.option(CLIENT_ID) for msg in sent}
    if ids == {None}:
        raise Unsupported("the client sends no client identifier (it is optional)")
    if len(ids) != 1:
        shown = ", ".join("none" if i is None else i.hex() for i in ids)
        raise dhcp_client.server.failure(f"client identifiers differ between messages: {shown}")


@pytest.mark.rfc("2131", "3.5", req="parameter-list-repeated")
def test_parameter_list_of_the_discover_is_sent_again(dhcp_client: ClientCase) -> None:
    _offer, request = selecting_request(dhcp_client)
    discover = next(s for s in dhcp_client.server.exchanged if is_kind(DISCOVER)(s))
    asked = discover.packet.message.option(PARAMETER_LIST)
    if asked is None:
        raise Unsupported("the DISCOVER carries no parameter request list")
    again = request.packet.message.option(PARAMETER_LIST)
    if again is None or set(again) != set(asked):
        shown = "none" if again is None else list(again)
        raise dhcp_client.server.failure(
            f"parameter request list {list(asked)} in the DISCOVER, {shown} in the REQUEST"
        )


@pytest.mark.rfc("2131", "3.5", req="max-message-size-sent")
def test_client_says_how_large_a_reply_may_be(dhcp_client: ClientCase) -> None:
    discover = first_discover(dhcp_client)
    if discover.packet.message.option(MAX_MESSAGE_SIZE) is None:
        raise dhcp_client.server.failure("no maximum DHCP message size option in the DISCOVER")


@pytest.mark.rfc("2131", "4.1", req="replies-matched-by-xid")
def test_replies_with_another_xid_are_ignored(dhcp_client: ClientCase) -> None:
    """An OFFER whose xid is not the DISCOVER's is not taken: the client requests the
    address of the OFFER that matches."""
    discover = first_discover(dhcp_client).packet
    server = dhcp_client.server
    (reply,) = server.server.handle(discover.message, now=now_us())
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
    with dhcp_client.precondition("a REQUEST for the real offer"):
        request = server.serve_until(is_kind(REQUEST), 10, "a DHCPREQUEST").packet
    if request.message.option_ip(REQUESTED_IP) != reply.message.yiaddr:
        raise server.failure(
            f"REQUEST asks for {request.message.option_ip(REQUESTED_IP)}, "
            f"not the matching offer's {reply.message.yiaddr}"
        )


@pytest.mark.rfc("2131", "4.1", req="xid-not-repeated")
def test_xid_is_new_after_a_restart(dhcp_client: ClientCase) -> None:
    """xids are chosen so that they do not repeat: a restarted client picks another."""
    server = dhcp_client.server
    xids = []
    for attempt in range(2):
        dhcp_client.start()
        with dhcp_client.precondition(f"a DISCOVER after start {attempt + 1}"):
            seen = server.serve_until(is_kind(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER")
        xids.append(seen.packet.message.xid)
        dhcp_client.client.stop()
        dhcp_client.client.wipe_state()
    dhcp_client.record("xids", ", ".join(f"0x{x:08x}" for x in xids))
    if xids[0] == xids[1]:
        raise server.failure(f"both starts used xid 0x{xids[0]:08x}")


@pytest.mark.rfc("950", "2.1", level="MUST")
def test_bound_client_applies_the_address_and_subnet_mask(dhcp_client: ClientCase) -> None:
    """After the ACK the interface has the address with the prefix the subnet mask option
    gave (a /24 here), which is what makes its on-link decisions right."""
    ack = bound(dhcp_client)
    server = dhcp_client.server
    want = f"{ack.message.yiaddr}/{server.config.network.prefixlen}"
    addresses = wait_for_address(dhcp_client, server, want, 10.0)
    if want not in addresses:
        raise server.failure(f"interface has {addresses or 'no address'}, expected {want}")


def has(addresses: list[str], address: str) -> bool:
    """Whether ADDRESS/PREFIX entries include ``address``."""
    return any(a.split("/")[0] == address for a in addresses)


def wait_for_address(case: ClientCase, server: ServerPeer, want: str, within: float) -> list[str]:
    deadline = Deadline(within)
    addresses = case.interface_addresses()
    while not (want in addresses or has(addresses, want)) and not deadline.passed:
        server.collect(0.2)
        addresses = case.interface_addresses()
    return addresses


# -- a lease's whole life: renew at T1, rebind at T2, stop at expiry --------------------------


@scenario("lifecycle", seconds=BIND_S + CLIENT_LEASE_S + EXPIRY_WATCH_S)
def lifecycle(case: ClientCase) -> dict:
    """Bind, then answer nothing more: the client renews, rebinds and finally gives the
    address up. The interface is read every half second."""
    server = case.server
    case.start()
    ack = server.wait_bound(BIND_S)
    acked = server.sent_at(ack)
    server.answering = lambda packet: False
    samples = []
    end = acked + int((CLIENT_LEASE_S + EXPIRY_WATCH_S) * 1e9)
    while time.time_ns() < end:
        server.collect(0.5)
        samples.append((time.time_ns(), case.interface_addresses()))
    return {"ack": ack, "acked_ns": acked, "address": ack.message.yiaddr, "samples": samples}


def since_ack(rec: RecordingView, seen: Seen) -> float:
    return (seen.ts_ns - rec.fact("acked_ns")) / 1e9


def extending(rec: RecordingView) -> list[Seen]:
    """The client's REQUESTs with ciaddr set, after its ACK (RENEWING and REBINDING)."""
    after = rec.fact("acked_ns")
    return [s for s in rec.from_client if s.ts_ns > after and is_kind(REQUEST, extending=True)(s)]


def late_by(due_s: float, tolerance: Tolerance) -> float:
    """The latest a client with whole-second timers may act for something due at ``due_s``."""
    return due_s + max(tolerance.slack(due_s), CLIENT_CLOCK_S)


@pytest.mark.recorded("lifecycle")
@pytest.mark.rfc("2131", "4.4.5", req="renew-at-t1")
def test_renews_at_t1(recording: RecordingView, tolerance: Tolerance) -> None:
    """The first RENEWING REQUEST comes by T1 (earlier is allowed: T1 may carry fuzz, and a
    client may renew before it)."""
    requests = [s for s in extending(recording) if since_ack(recording, s) < CLIENT_T2_S]
    if not requests:
        raise recording.failure(f"no REQUEST to renew the lease before T2 ({CLIENT_T2_S} s)")
    first = since_ack(recording, requests[0])
    recording.measure(f"first RENEW after the ACK (T1 = {CLIENT_T1_S} s)", first)
    if first > late_by(CLIENT_T1_S, tolerance):
        raise recording.failure(
            f"the first RENEW came {first:.1f} s after the ACK, T1 is {CLIENT_T1_S} s "
            f"(accepted up to {late_by(CLIENT_T1_S, tolerance):.1f} s)"
        )


@pytest.mark.recorded("lifecycle")
@pytest.mark.rfc("2131", "4.4.5", req="renew-unicast")
def test_renewing_request_is_unicast_to_the_server(recording: RecordingView) -> None:
    server = recording.server
    renewing = [s for s in extending(recording) if since_ack(recording, s) < CLIENT_T2_S]
    if not renewing:
        raise Unsupported("no RENEWING request to inspect (test_renews_at_t1 reports that)")
    packet = renewing[0].packet
    if (packet.ip_dst, packet.eth_dst) != (server.config.server_id, server.mac):
        raise recording.failure(
            f"the RENEWING REQUEST went to {packet.ip_dst} at {packet.eth_dst}, not unicast "
            f"to the server {server.config.server_id} at {server.mac}"
        )


@pytest.mark.recorded("lifecycle")
@pytest.mark.rfc("2131", "4.4.5", req="extending-request-fields")
def test_extending_requests_carry_ciaddr_and_name_no_server(recording: RecordingView) -> None:
    """Every RENEWING and REBINDING REQUEST: ciaddr is the address, no server identifier,
    no requested address."""
    requests = extending(recording)
    if not requests:
        raise Unsupported("no RENEWING or REBINDING request to inspect")
    address = recording.fact("address")
    for seen in requests:
        msg, wrong = seen.packet.message, []
        if msg.ciaddr != address:
            wrong.append(f"ciaddr {msg.ciaddr}")
        if msg.option(SERVER_ID) is not None:
            wrong.append(f"a server identifier ({msg.option_ip(SERVER_ID)})")
        if msg.option(REQUESTED_IP) is not None:
            wrong.append(f"a requested address ({msg.option_ip(REQUESTED_IP)})")
        if wrong:
            raise recording.failure(
                f"REQUEST at {since_ack(recording, seen):.1f} s: " + "; ".join(wrong)
            )


@pytest.mark.recorded("lifecycle")
@pytest.mark.rfc("2131", "4.4.5", req="rebind-broadcast-at-t2")
def test_rebinds_by_broadcast_from_t2(recording: RecordingView, tolerance: Tolerance) -> None:
    """From T2 (T2 may carry fuzz) the client's REQUESTs are broadcast, and one comes before
    the lease ends. A client's own retransmission schedule decides when the first one goes
    out; its delay after T2 is reported."""
    cutoff = late_by(CLIENT_T2_S, tolerance)
    requests = [s for s in extending(recording) if since_ack(recording, s) < CLIENT_LEASE_S]
    late_unicast = [
        s for s in requests if since_ack(recording, s) > cutoff and s.packet.ip_dst != ALL_ONES
    ]
    if late_unicast:
        raise recording.failure(
            f"still unicast after T2 ({CLIENT_T2_S} s): a REQUEST to "
            f"{late_unicast[0].packet.ip_dst} at {since_ack(recording, late_unicast[0]):.1f} s"
        )
    broadcast = [s for s in requests if s.packet.ip_dst == ALL_ONES]
    if not broadcast:
        raise recording.failure(
            f"no broadcast REQUEST between T2 ({CLIENT_T2_S} s) and the end of the lease "
            f"({CLIENT_LEASE_S} s)"
        )
    first = since_ack(recording, broadcast[0])
    recording.measure(f"first REBIND after the ACK (T2 = {CLIENT_T2_S} s)", first)


@pytest.mark.recorded("lifecycle")
@pytest.mark.rfc("2131", "4.4.5", req="stop-at-expiry")
def test_address_is_given_up_when_the_lease_expires(recording: RecordingView) -> None:
    """Once the lease has run out (nobody answered) the client stops using the address at
    once: it is off the interface, and no message uses it any more."""
    address, acked = recording.fact("address"), recording.fact("acked_ns")
    expiry = acked + CLIENT_LEASE_S * 10**9
    limit = expiry + int(CLIENT_CLOCK_S * 1e9)
    still = [
        ts
        for ts, addrs in recording.fact("samples")
        if any(a.split("/")[0] == address for a in addrs)
    ]
    last = (max(still) - acked) / 1e9 if still else None
    recording.record(
        "address last seen on the interface",
        "never" if last is None else f"{last:.1f} s after the ACK (lease: {CLIENT_LEASE_S} s)",
    )
    if still and max(still) > limit:
        raise recording.failure(
            f"{address} was still on the interface {last:.1f} s after the ACK; the lease ended "
            f"at {CLIENT_LEASE_S} s"
        )
    used = [
        s
        for s in recording.from_client
        if s.ts_ns > limit and address in (s.packet.message.ciaddr, s.packet.ip_src)
    ]
    if used:
        raise recording.failure(
            f"{address} was still used after the lease ended: {used[0].packet.kind} from "
            f"{used[0].packet.ip_src} with ciaddr {used[0].packet.message.ciaddr} at "
            f"{since_ack(recording, used[0]):.1f} s"
        )


# -- retransmission without a server: the DISCOVER backoff -----------------------------------


@scenario("backoff", seconds=FIRST_MESSAGE_S + BACKOFF_WATCH_S)
def backoff(case: ClientCase) -> dict:
    """No server answers: every DISCOVER the client sends for 80 s after its first."""
    server = case.server
    server.answering = lambda packet: False
    case.start()
    first = server.serve_until(is_kind(DISCOVER), FIRST_MESSAGE_S, "a DHCPDISCOVER")
    server.collect(BACKOFF_WATCH_S)
    times = [s.ts_ns for s in server.exchanged if not s.from_tester and is_kind(DISCOVER)(s)]
    return {"first": first, "gaps": [(b - a) / 1e9 for a, b in itertools.pairwise(times)]}


def discover_gaps(rec: RecordingView) -> list[float]:
    gaps = rec.fact("gaps")
    rec.record("gaps between DISCOVERs", ", ".join(f"{g:.3f} s" for g in gaps) or "none")
    if not gaps:
        raise ScenarioNotReached(
            "DISCOVER retransmissions", f"one DISCOVER and none again in {BACKOFF_WATCH_S:.0f} s"
        )
    return gaps


def too_few(gaps: list[float], judged: str) -> NotObserved:
    """A client may stop retransmitting on a timer of its own (dhclient gives up after 60 s
    by default): fewer delays than a check needs decide nothing, and a random schedule
    must not be judged from a short sample (README, "Verdicts")."""
    return NotObserved(
        f"{len(gaps) + 1} DISCOVERs in {BACKOFF_WATCH_S:.0f} s (delays "
        f"{', '.join(f'{g:.2f}' for g in gaps)} s): too few to judge {judged}"
    )


REPEAT_S = 0.05  # a fixed timer's delays agree to this on a busy machine (tens of ms late)
SAME_DELAY_S = 2.0  # two delays meant to be equal, randomized by +-1 s, differ by less


def fixed_timer(gaps: list[float]) -> bool:
    """Whether the delays come from a fixed timer: of the pairs of delays meant to be equal
    (within 2 s of each other, any two, not only neighbours), at least two and at least half
    agree to 50 ms. A schedule randomized by +-1 s makes such a pair 1 time in 20; an
    exponential one has no two delays meant to be equal in the 80 s watched, so a compliant
    client is never judged by this."""
    pairs = list(itertools.combinations(gaps, 2))
    alike = [(a, b) for a, b in pairs if abs(a - b) < SAME_DELAY_S]
    repeats = [(a, b) for a, b in alike if abs(a - b) <= REPEAT_S]
    return len(repeats) >= 2 and 2 * len(repeats) >= len(alike)


@pytest.mark.recorded("backoff")
@pytest.mark.rfc("2131", "4.1", req="retransmission-backoff")
def test_retransmission_backoff_is_randomized_and_exponential(recording: RecordingView) -> None:
    """Randomized: delays do not repeat, as a fixed timer's do (fixed_timer decides).
    Exponential: a delay reaches 24 s and three times the first (the RFC's doubling reaches
    32 s by the fourth). A randomized schedule that never grows that far in the 80 s watched
    (one capped below, or growing slowly), or too short a sample, is INFO, not judged; and
    the bound lies outside what either kind of schedule draws, so one run decides the same
    as the next."""
    gaps = discover_gaps(recording)
    shown = ", ".join(f"{g:.2f}" for g in gaps)
    if fixed_timer(gaps):
        raise recording.failure(f"delays {shown} s repeat within {REPEAT_S} s: not randomized")
    if len(gaps) < 4:
        raise too_few(gaps, "the growth of the delays")
    longest = max(gaps)
    recording.record("longest delay over the first", f"{longest / gaps[0]:.2f}")
    if longest < GROWN_S or longest < 3 * gaps[0]:
        raise NotObserved(
            f"randomized delays {shown} s; the longest, {longest:.2f} s, is not {GROWN_S:.0f} s "
            "and three times the first, which the RFC's doubling reaches by its fourth delay: "
            "an exponential backoff is not shown (a backoff capped below 64 s never shows it)"
        )


@pytest.mark.recorded("backoff")
@pytest.mark.rfc("2131", "4.1", req="retransmission-delays")
def test_retransmission_delays_are_4_8_16_32_seconds(
    recording: RecordingView, tolerance: Tolerance
) -> None:
    """The delays the RFC suggests on an Ethernet: 4 s, then doubled (8, 16, 32), each
    within +-1 s. One delay outside its window decides (WARN); a pass needs all four, so
    that a random schedule does not match by luck."""
    gaps = discover_gaps(recording)
    slack = 1.0 + tolerance.slack(2.0)  # the RFC's window is 2 s wide
    for index, (gap, want) in enumerate(zip(gaps, (4.0, 8.0, 16.0, 32.0), strict=False)):
        if abs(gap - want) > slack:
            raise recording.failure(
                f"delay {index + 1} was {gap:.2f} s, {want:.0f} +- 1 s suggested "
                f"(all: {', '.join(f'{g:.2f}' for g in gaps)} s)"
            )
    if len(gaps) < 4:
        raise too_few(gaps, "all four suggested delays")


# -- giving the lease back: RELEASE ---------------------------------------------------------


@scenario("release", seconds=RELEASE_ATTEMPTS * 8.0)
def release(case: ClientCase) -> dict:
    """Bind, wait for the address, ask the client to release it; again, until three
    RELEASEs were seen or twenty attempts were made (a client may lose some)."""
    attempts, server = [], case.server
    for _ in range(RELEASE_ATTEMPTS):
        case.start()
        ack = server.wait_bound(BIND_S)
        wait_for_address(case, server, ack.message.yiaddr, 10.0)
        server.collect(0.3)
        case.client.release()
        sent = [s for s in collect_while_running(case, 4.0) if is_kind(RELEASE)(s)]
        attempts.append({"address": ack.message.yiaddr, "releases": sent})
        case.client.stop()
        case.client.wipe_state()
        if sum(1 for a in attempts if a["releases"]) >= RELEASES_WANTED:
            break
    return {"attempts": attempts}


def collect_while_running(case: ClientCase, seconds: float) -> list[Seen]:
    """What the client sends in ``seconds``; one that exits sooner (dhcpcd does after its
    RELEASE) with no helper command of it still running (dhclient -r sends the RELEASE from
    its own process) has sent all it will half a second after, which spares most of the wait."""
    got, end = [], time.monotonic() + case.server.scale * seconds
    while time.monotonic() < end and case.client.busy:
        got += case.server.collect(0.25)
    if not case.client.busy:
        got += case.server.collect(0.5)
    return got


def releases(rec: RecordingView) -> list[tuple[str, Seen]]:
    """(the address released, the RELEASE) of every attempt that put one on the wire."""
    return [(a["address"], a["releases"][0]) for a in rec.fact("attempts") if a["releases"]]


def judged_releases(rec: RecordingView) -> list[tuple[str, Seen]]:
    """The RELEASEs to judge. A client that sent one at every attempt gets a verdict either
    way; one that loses some is judged on those it sent only when they are wrong (a FAIL
    stands on any wrong RELEASE), otherwise INFO: how many it sent varies from run to run,
    and so would a verdict built on it."""
    found, attempts = releases(rec), len(rec.fact("attempts"))
    if not found:
        raise NotObserved(f"no RELEASE on the wire in {attempts} attempts: nothing to inspect")
    return found


def settle_releases(rec: RecordingView, judged: list[tuple[str, Seen]]) -> None:
    """Called once every RELEASE passed its check."""
    attempts = len(rec.fact("attempts"))
    if len(judged) < attempts:
        raise NotObserved(
            f"the {len(judged)} RELEASEs the client sent in {attempts} attempts are right; "
            "it loses the others (test_release_is_sent_when_the_lease_is_given_up)"
        )


@pytest.mark.recorded("release")
@pytest.mark.rfc("2131", "4.4.6", req="release-sent")
def test_release_is_sent_when_the_lease_is_given_up(recording: RecordingView) -> None:
    attempts = recording.fact("attempts")
    seen = len(releases(recording))
    recording.record("RELEASE on the wire", f"in {seen} of {len(attempts)} attempts")
    if seen < len(attempts):
        raise NotObserved(
            f"asked to give up its lease {len(attempts)} times, the client put a RELEASE on "
            f"the wire {seen} times (RFC 2131 4.4.6: correct operation does not depend on it)"
        )


@pytest.mark.recorded("release")
@pytest.mark.rfc("2131", "4.4.1", req="release-fields")
def test_release_carries_ciaddr_and_the_server_identifier(recording: RecordingView) -> None:
    """Table 5: ciaddr is the address, the server identifier is there, no requested address."""
    found = judged_releases(recording)
    server_id = recording.server.config.server_id
    for address, seen in found:
        msg, wrong = seen.packet.message, []
        if msg.ciaddr != address:
            wrong.append(f"ciaddr {msg.ciaddr}")
        if msg.option_ip(SERVER_ID) != server_id:
            wrong.append(f"server identifier {msg.option_ip(SERVER_ID)}")
        if msg.option(REQUESTED_IP) is not None:
            wrong.append(f"requested address {msg.option_ip(REQUESTED_IP)}")
        if wrong:
            raise recording.failure(f"RELEASE of {address}: " + "; ".join(wrong))
    settle_releases(recording, found)


@pytest.mark.recorded("release")
@pytest.mark.rfc("2131", "4.4.4", req="release-unicast")
def test_release_is_unicast_to_the_server(recording: RecordingView) -> None:
    found = judged_releases(recording)
    server = recording.server
    for _address, seen in found:
        packet = seen.packet
        if (packet.ip_dst, packet.eth_dst) != (server.config.server_id, server.mac):
            raise recording.failure(
                f"RELEASE went to {packet.ip_dst} at {packet.eth_dst}, not unicast to "
                f"{server.config.server_id} at {server.mac}"
            )
    settle_releases(recording, found)


# -- an address already in use: the ARP check and DECLINE -----------------------------------


@scenario("conflict", seconds=BIND_S + 3 * DECLINE_WAIT_S + FIRST_MESSAGE_S)
def conflict(case: ClientCase) -> dict:
    """Another host (a namespace of its own) already uses the address the server offers
    first; the client should find out, DECLINE it, and start again no sooner than 10 s."""
    server = case.server
    taken = server.config.pool[0]
    squatter = case.add_squatter(taken)
    case.start()
    ack = server.wait_bound(BIND_S)
    deadline = Deadline(3 * DECLINE_WAIT_S + FIRST_MESSAGE_S)
    while not deadline.passed and not restarted_after_decline(server):
        server.collect(0.5)
    probes = [a for _ts, a in server.arp_requests if a.target_ip == taken]
    return {"taken": taken, "squatter": squatter, "ack": ack, "probes": len(probes)}


def restarted_after_decline(server: ServerPeer) -> bool:
    client = [s for s in server.exchanged if not s.from_tester]
    declines = [s.ts_ns for s in client if is_kind(DECLINE)(s)]
    return bool(declines) and any(is_kind(DISCOVER)(s) and s.ts_ns > declines[0] for s in client)


@pytest.mark.recorded("conflict")
@pytest.mark.rfc("2131", "4.4.1", req="address-checked-before-use")
def test_offered_address_is_checked_before_use(recording: RecordingView) -> None:
    taken, probes = recording.fact("taken"), recording.fact("probes")
    recording.record("ARP requests for the offered address", probes)
    if not probes:
        raise recording.failure(f"no ARP check of {taken} before using it")


def the_decline(rec: RecordingView) -> Seen:
    if not rec.fact("probes"):
        raise Unsupported("the client does not check the address (test_offered_address...)")
    declines = [s for s in rec.from_client if is_kind(DECLINE)(s)]
    if not declines:
        raise rec.failure(
            f"the client checked {rec.fact('taken')}, someone else answered for it, "
            "and no DECLINE came"
        )
    return declines[0]


@pytest.mark.recorded("conflict")
@pytest.mark.rfc("2131", "4.4.1", req="decline-on-conflict")
def test_address_in_use_is_declined(recording: RecordingView) -> None:
    the_decline(recording)


@pytest.mark.recorded("conflict")
@pytest.mark.rfc("2131", "4.4.1", req="decline-fields")
def test_decline_names_the_address_and_the_server(recording: RecordingView) -> None:
    try:
        msg = the_decline(recording).packet.message
    except ConformanceFailure:
        raise Unsupported("no DECLINE to inspect (test_address_in_use_is_declined)") from None
    taken, server_id = recording.fact("taken"), recording.server.config.server_id
    if msg.option_ip(REQUESTED_IP) != taken or msg.option_ip(SERVER_ID) != server_id:
        raise recording.failure(
            f"DECLINE names {msg.option_ip(REQUESTED_IP)} and server {msg.option_ip(SERVER_ID)},"
            f" not {taken} and {server_id}"
        )


@pytest.mark.recorded("conflict")
@pytest.mark.rfc("2131", "3.1", req="wait-after-decline")
def test_client_waits_ten_seconds_after_decline(
    recording: RecordingView, tolerance: Tolerance
) -> None:
    try:
        decline = the_decline(recording)
    except ConformanceFailure:
        raise Unsupported("no DECLINE (test_address_in_use_is_declined)") from None
    restarts = [
        s for s in recording.from_client if s.ts_ns > decline.ts_ns and is_kind(DISCOVER)(s)
    ]
    if not restarts:
        raise Unsupported("no DISCOVER after the DECLINE to time")
    gap = (restarts[0].ts_ns - decline.ts_ns) / 1e9
    recording.measure("DECLINE to the next DISCOVER", gap)
    if gap < DECLINE_WAIT_S - tolerance.slack(DECLINE_WAIT_S):
        raise recording.failure(f"DISCOVER {gap:.3f} s after DECLINE (at least 10 s expected)")
