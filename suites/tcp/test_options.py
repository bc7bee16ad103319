"""Options: how the target parses ours (EOL, NOP, MSS, an unknown kind, a misaligned
option, options on a data segment: RFC 9293 3.1 and 3.2), the peer's MSS, window scaling, SACK
blocks, and sequence numbers that wrap past 2**32 (RFC 9293 3.4 and 3.7.1; RFC 7323 2; RFC
2018 4)."""

import pytest

from harness.core.bounds import DELAYED_ACK, PROMPT_S, QUIET_S
from harness.core.errors import ConformanceFailure, Unsupported
from harness.tcp.stream import data_segments, delivered
from reference_impl.wire.ethernet import Ethernet
from reference_impl.wire.ipv4 import IPv4
from reference_impl.wire.tcp import (
    ACK,
    FIN,
    SYN,
    Eol,
    Mss,
    Nop,
    Sack,
    SackPermitted,
    UnknownOption,
    WindowScale,
)

WRITE = 6000
# Kind 253 is for experiments (RFC 4727, with a 2-byte ExID after RFC 6994): no stack
# understands this ExID ("NC"), so to the target it is an option of unknown meaning.
UNKNOWN = UnknownOption(253, b"NC")

FLIGHT_S = 0.5  # long enough for a sender to put its whole window on the wire


@pytest.mark.rfc("9293", "3.7.1", req="MUST-16")
def test_segments_respect_the_peers_mss(tcp):
    """We announce an MSS of 536: no data segment from the target is larger."""
    conn = tcp.connect_to_target(mss=536)
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(WRITE))
    sizes = [seg.length for seg in data_segments(conn.peer, WRITE)]
    if max(sizes) > 536:
        raise ConformanceFailure(f"segments of {max(sizes)} bytes after an MSS of 536: {sizes}")


@pytest.mark.rfc("9293", "3.7.1", req="MUST-15")
def test_without_an_mss_option_segments_are_at_most_536(tcp):
    conn = tcp.connect_to_target(mss=None)  # our SYN carries no MSS option at all
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(3000))
    sizes = [seg.length for seg in data_segments(conn.peer, 3000)]
    if max(sizes) > 536:
        raise ConformanceFailure(f"segments of {max(sizes)} bytes without an MSS option: {sizes}")


def largest_segment_after_syn_options(tcp, options):
    """Open a connection with exactly ``options`` in our SYN (no MSS of our own besides),
    have the target write 3000 bytes, and return its largest data segment."""
    conn = tcp.connect_to_target(mss=None, options=options)
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(3000))
    return max(seg.length for seg in data_segments(conn.peer, 3000))


# An MSS the target can only have read from our option: without one it must stay at 536
# (MUST-15), so segments over 536 show it was found, and none over 1200 that it was obeyed.
SEEN_MSS = 1200


def check_mss_found(tcp, options, where):
    """The MSS of 1200 placed ``where`` among ``options`` is found: the target's segments
    grow past 536 as they do after a plain MSS option, and stay within 1200."""
    plain = largest_segment_after_syn_options(tcp, [Mss(SEEN_MSS)])
    if plain <= 536:
        raise Unsupported(
            f"the target sends at most {plain} bytes per segment even after a plain MSS of "
            f"{SEEN_MSS}: whether it found an MSS {where} cannot be seen"
        )
    largest = largest_segment_after_syn_options(tcp, options)
    if largest > SEEN_MSS:
        raise ConformanceFailure(f"a {largest}-byte segment after an MSS of {SEEN_MSS} {where}")
    if largest <= 536:
        raise ConformanceFailure(
            f"segments of at most {largest} bytes, as without an MSS option ({plain} after a "
            f"plain MSS of {SEEN_MSS}): the MSS {where} was not found"
        )


@pytest.mark.rfc("9293", "3.1", req="MUST-4")
def test_an_mss_among_nops_and_before_an_eol_is_found(tcp):
    """Our SYN carries NOP, NOP, MSS 1200, EOL."""
    check_mss_found(tcp, [Nop(), Nop(), Mss(SEEN_MSS), Eol()], "between NOPs and an EOL")


@pytest.mark.rfc("9293", "3.2", req="MUST-64")
def test_a_misaligned_mss_is_found(tcp):
    """The MSS option starts at byte 1 of the options (after one NOP), off the 32-bit grid."""
    check_mss_found(tcp, [Nop(), Mss(SEEN_MSS)], "at an odd offset")


@pytest.mark.rfc("9293", "3.1", req="MUST-6")
def test_an_unknown_option_in_the_syn_is_skipped_by_its_length(tcp):
    """An option of unknown meaning before the MSS: the target steps over it by its length
    and finds the MSS behind it."""
    check_mss_found(tcp, [UNKNOWN, Mss(SEEN_MSS)], "after an unknown option (kind 253)")


@pytest.mark.rfc("9293", "3.7.1", req="MUST-65")
def test_the_mss_option_appears_in_syn_segments_only(tcp):
    """Every segment of a connection's life after the handshake (data, ACKs, FIN) is free
    of an MSS option; the SYN-ACK may carry one."""
    conn = tcp.connect_to_target()
    peer = conn.peer
    with tcp.precondition("data both ways, then the target's FIN"):
        peer.send(b"m" * 100)
        tcp.set_option(conn, "nodelay", 1)
        tcp.app_write(conn, bytes(WRITE))
        data_segments(peer, WRITE)
        tcp.app_shutdown(conn)
        peer.expect(flags=FIN | ACK, within=PROMPT_S, skip_others=True, what="the FIN")
    later = [seg for seg in peer.segments if not seg.from_tester and not seg.has(SYN)]
    with_mss = [seg.describe() for seg in later if seg.option(Mss) is not None]
    if with_mss:
        raise ConformanceFailure(f"an MSS option outside a SYN: {with_mss[0]}")
    tcp.record("segments without a SYN checked", len(later))


@pytest.mark.rfc("9293", "3.1", req="MUST-5")
def test_a_data_segment_with_options_is_accepted(tcp):
    """100 bytes on a segment carrying NOP, NOP and an unknown option: the target
    acknowledges them and its application reads them."""
    delivered(tcp, tcp.connect_to_target(), b"o" * 100, options=[Nop(), Nop(), UNKNOWN])


@pytest.mark.rfc("7323", "2.3", level="MUST")
def test_window_scaling_applies_after_the_syn(tcp):
    """We offer scale 2 and advertise 1000 (= 4000 bytes): the target may have up to 4000
    bytes in flight, and more than 1000 (it must apply the scale)."""
    conn = tcp.connect_to_target(options=[WindowScale(2)], window=1000)
    peer = conn.peer
    if not peer.target_offered(WindowScale):
        raise Unsupported("the target does not offer window scaling (RFC 7323 is optional)")
    peer.send(flags=ACK, window=1000)  # the first window after the SYN is scaled
    tcp.set_option(conn, "nodelay", 1)
    tcp.app_write(conn, bytes(20000))
    sent = [seg for seg in peer.collect(FLIGHT_S) if seg.length]
    end = max((seg.seq + seg.length for seg in sent), default=1)
    if end > 4001:
        raise ConformanceFailure(f"data up to {end - 1} with only 4000 bytes of window")
    if end <= 1001:
        raise ConformanceFailure(f"only {end - 1} bytes sent: the window scale was not applied")


@pytest.mark.rfc("2018", "4", level="SHOULD")
def test_sack_blocks_report_the_newest_block_first(tcp):
    """With SACK permitted, segments above two holes draw ACKs whose first SACK block is the
    one holding the latest segment (RFC 2018 section 4)."""
    peer = tcp.connect_to_target(options=[SackPermitted()]).peer
    if not peer.target_offered(SackPermitted):
        raise Unsupported("the target does not offer SACK (RFC 2018 is optional)")
    peer.send(b"a" * 100)  # 1..100
    peer.expect_predicted(what="the ACK", bound=DELAYED_ACK)
    peer.send(b"c" * 100, seq=201)  # hole at 101
    peer.expect_predicted(what="a duplicate ACK", bound=DELAYED_ACK)
    peer.send(b"e" * 100, seq=401)  # hole at 301
    ack = peer.expect_predicted(what="a duplicate ACK", bound=DELAYED_ACK).segment
    sack = ack.option(Sack)
    if sack is None:
        raise ConformanceFailure(f"no SACK option on the duplicate ACK: {ack.describe()}")
    relative = [((lo - peer.iss) % 2**32, (hi - peer.iss) % 2**32) for lo, hi in sack.blocks]
    if relative[:2] != [(401, 501), (201, 301)]:
        raise ConformanceFailure(f"SACK blocks {relative}: want (401, 501) first, then (201, 301)")


@pytest.mark.rfc("9293", "3.4", level="MUST")
def test_sequence_numbers_wrap_past_2_32(tcp):
    """Our ISN is 300 below 2**32: data across the wrap is acknowledged and delivered."""
    conn = tcp.connect_to_target(iss=2**32 - 300)
    peer = conn.peer
    chunks = [bytes([65 + i]) * 200 for i in range(4)]  # crosses 2**32 in the second chunk
    for index, chunk in enumerate(chunks):
        peer.send(chunk)
        seen = peer.expect_predicted(what="the ACK", bound=DELAYED_ACK, skip_others=True)
        assert seen.segment.ack == 1 + 200 * (index + 1)
    if tcp.app_read(conn, 800) != b"".join(chunks):
        raise ConformanceFailure("the bytes across the wrap were not delivered in order")


# -- what the target makes of illegal option lengths (MUST-7) -------------------------------

ILLEGAL_OPTIONS = {
    "length-0": bytes([253, 0, 2, 4, 5, 180]),  # kind 253 of length 0, then MSS 1460
    "length-1": bytes([253, 1, 2, 4, 5, 180]),
    "past-the-header": bytes([2, 40, 5, 180]),  # an MSS that claims 40 bytes
}


@pytest.mark.parametrize("illegal", ILLEGAL_OPTIONS)
@pytest.mark.rfc("9293", "3.1", req="MUST-7")
def test_an_illegal_option_length_leaves_the_stack_working(tcp, illegal):
    """A SYN whose option list has an illegal length may be dropped or refused (RST); the
    stack must survive it: the next SYN to the same listener is answered with a SYN-ACK."""
    port, listener = tcp.listen()
    bad = tcp.peer(port)
    tcp.observe(bad, listener)
    bad.send_raw_options(ILLEGAL_OPTIONS[illegal])
    answer = bad.collect(QUIET_S)
    tcp.record("answer to the illegal SYN", [seg.describe() for seg in answer] or "none")
    good = tcp.peer(port)
    tcp.observe(good, listener)
    good.send_syn()
    try:
        good.expect_predicted(what="the next SYN-ACK", fields=("flags", "ack"))
    except ConformanceFailure:
        if not tcp.bed.target.alive:
            raise ConformanceFailure(
                f"the stack exited after a SYN with an option of illegal length ({illegal})"
            ) from None
        raise


# -- the options the target sends (MUST-68, MUST-69) -----------------------------------------


def raw_options(frame: bytes) -> bytes:
    """The option bytes of the TCP header in an Ethernet frame, padding included."""
    packet = IPv4.parse(Ethernet.parse(frame).payload).payload
    return packet[20 : (packet[12] >> 4) * 4]


def option_problems(raw: bytes) -> tuple[list[str], bytes | None]:
    """(options without a proper length, the bytes after an EOL or None without one)."""
    problems, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            return problems, raw[i + 1 :]
        if kind == 1:
            i += 1
            continue
        length = raw[i + 1] if i + 1 < len(raw) else 0
        if length < 2 or i + length > len(raw):
            return [f"kind {kind} at byte {i}: length {length}"], None
        i += length
    return problems, None


def target_option_bytes(tcp):
    """The raw options of every segment the target sends in a passive open (SYN-ACK), an
    active open (SYN) and data both ways on each."""
    passive = tcp.connect_to_target(options=[SackPermitted(), WindowScale(2)])
    active = tcp.connect_from_target()
    for conn in (passive, active):
        with tcp.precondition("data from the target"):
            tcp.set_option(conn, "nodelay", 1)
            tcp.app_write(conn, bytes(2000))
            data_segments(conn.peer, 2000)
    return [
        (frame, raw_options(frame.data))
        for conn in (passive, active)
        for frame in conn.peer.target_frames()
    ]


@pytest.mark.rfc("9293", "3.1", req="MUST-68")
def test_every_option_the_target_sends_has_a_length(tcp):
    seen = target_option_bytes(tcp)
    for _frame, raw in seen:
        problems, _ = option_problems(raw)
        if problems:
            raise ConformanceFailure(f"an option without a proper length: {problems[0]}")
    tcp.record("segments whose options were read", len(seen))


@pytest.mark.rfc("9293", "3.1", req="MUST-69")
def test_the_header_after_an_eol_is_zero_padding(tcp):
    padding = [(raw, option_problems(raw)[1]) for _, raw in target_option_bytes(tcp)]
    for raw, after in padding:
        if after is not None and any(after):
            raise ConformanceFailure(f"options {raw.hex()}: bytes after the EOL are not zero")
    tcp.record(
        "segments ending their options with an EOL", sum(1 for _, a in padding if a is not None)
    )


# -- the MSS the target announces (SHLD-5, SHLD-6) ----------------------------------------------

LINK_MTU = 1500  # every bed's link (veth, bridge and TAP keep the Ethernet default)


def announced_mss(tcp):
    """The target's MSS options: in its SYN-ACK and in its own SYN."""
    passive = tcp.connect_to_target().peer.target_syn
    active = tcp.connect_from_target().peer.target_syn
    return {"SYN-ACK": passive.option(Mss), "SYN": active.option(Mss)}


@pytest.mark.rfc("9293", "3.7.1", req="SHLD-5")
def test_syns_carry_an_mss_option(tcp):
    """On a 1500-byte link a receive MSS is not 536: both SYNs announce it."""
    missing = [name for name, mss in announced_mss(tcp).items() if mss is None]
    if missing:
        raise ConformanceFailure(f"no MSS option in the target's {' and '.join(missing)}")


@pytest.mark.rfc("9293", "3.7.3", req="SHLD-6")
def test_the_mss_fits_the_link_mtu(tcp):
    """The MSS announced fits the link's MTU of 1500 less 40 bytes of IPv4 and TCP headers."""
    found = {name: mss.value for name, mss in announced_mss(tcp).items() if mss is not None}
    tcp.record("MSS announced", found or "none")
    too_big = {name: value for name, value in found.items() if value > LINK_MTU - 40}
    if too_big:
        raise ConformanceFailure(
            f"an MSS above {LINK_MTU - 40} on a {LINK_MTU}-byte link: {too_big}"
        )
