"""A seeded fuzzer of the decoders and of the whole host: valid frames of every kind the
reference speaks, broken by bit flips, overwritten bytes, truncation, extension and noise.
Every decoder may raise WireError and nothing else; the host never raises at all.

    python -m tests.reference.fuzz_wire [FRAMES] [SEED]     # prints what escaped
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable

from harness.core.frames import decode_frame
from reference_impl.dhcp.packets import DhcpPacket, decode, encode
from reference_impl.host import Host, HostConfig
from reference_impl.wire.arp import REQUEST, Arp
from reference_impl.wire.dhcp import BOOTREQUEST, DISCOVER, MESSAGE_TYPE, DhcpMessage
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import BROADCAST, ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, PROTO_UDP, IPv4
from reference_impl.wire.tcp import (
    ACK,
    SYN,
    Mss,
    Nop,
    Sack,
    SackPermitted,
    TcpSegment,
    Timestamps,
    WindowScale,
)
from reference_impl.wire.udp import Udp

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
IP_A, IP_B = "198.18.0.1", "198.18.0.2"


def valid_frames() -> list[bytes]:
    def ip(proto: int, payload: bytes) -> bytes:
        return Ethernet(MAC_B, MAC_A, ETH_P_IP, IPv4(IP_A, IP_B, proto, payload).emit()).emit()

    options = (Mss(1460), SackPermitted(), Nop(), WindowScale(7))
    syn = TcpSegment(40000, 80, 1000, 0, SYN, 65535, b"", options)
    data = TcpSegment(40000, 80, 1001, 5001, ACK, 501, b"x" * 300, (Nop(), Nop(), Timestamps(1, 2)))
    sack = TcpSegment(40000, 80, 1001, 5001, ACK, 501, b"", (Nop(), Nop(), Sack(((1, 2), (3, 4)))))
    arp = Arp(REQUEST, MAC_A, IP_A, "00:00:00:00:00:00", IP_B)
    discover = DhcpMessage(BOOTREQUEST, 0x1234, MAC_A, ((MESSAGE_TYPE, bytes([DISCOVER])),))
    dhcp = encode(DhcpPacket(discover, MAC_A, BROADCAST, "0.0.0.0", "255.255.255.255", 68, 67))
    return [
        ip(PROTO_TCP, syn.emit(IP_A, IP_B)),
        ip(PROTO_TCP, data.emit(IP_A, IP_B)),
        ip(PROTO_TCP, sack.emit(IP_A, IP_B)),
        ip(PROTO_UDP, Udp(5000, 53, b"hello").emit(IP_A, IP_B)),
        Ethernet(BROADCAST, MAC_A, ETH_P_ARP, arp.emit()).emit(),
        dhcp,
    ]


def mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randrange(1, 4)):
        how = rng.random()
        if how < 0.4 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif how < 0.7 and data:
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        elif how < 0.85:
            del data[rng.randrange(len(data) + 1) :]
        elif how < 0.95:
            data += rng.randbytes(rng.randrange(1, 64))
        else:
            data = bytearray(rng.randbytes(rng.randrange(0, 120)))
    return bytes(data)


def decoders() -> list[Callable[[bytes], object]]:
    """Every entry point that takes bytes from the wire."""

    def layered(frame: bytes) -> object:
        eth = Ethernet.parse(frame)
        packet = IPv4.parse(eth.payload)
        if packet.proto == PROTO_TCP:
            return TcpSegment.parse(packet.payload)
        return Udp.parse(packet.payload)

    return [
        layered,
        lambda f: Arp.parse(Ethernet.parse(f).payload),
        lambda f: DhcpMessage.parse(f[42:]),
        decode,  # a whole DHCP frame
        decode_frame,  # the harness's own view; never raises
    ]


def run(frames: int, seed: int = 1) -> tuple[int, list[str]]:
    """Feed ``frames`` mutated frames to every decoder and to a host; return what escaped."""
    rng = random.Random(seed)
    seeds, escaped = valid_frames(), []
    host = Host(HostConfig(mac=MAC_B, ip=IP_B, neighbors={IP_A: MAC_A}))
    host.listen(80)
    parse = decoders()
    for n in range(frames):
        frame = mutate(rng, rng.choice(seeds))
        for decoder in parse:
            try:
                decoder(frame)
            except WireError:
                pass
            except Exception as exc:
                escaped.append(
                    f"frame {n} {frame.hex()}: {getattr(decoder, '__name__', decoder)}: {exc!r}"
                )
        try:
            host.receive_frame(frame, now=n)
        except Exception as exc:
            escaped.append(f"frame {n} {frame.hex()}: host: {exc!r}")
    return frames, escaped


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    total, found = run(count, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    print(f"{total} frames, {len(found)} exceptions other than WireError")
    for line in found[:20]:
        print(line)
