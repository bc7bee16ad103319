"""A seeded userspace relay that impairs the link: loss, duplication, reordering, delay and
corruption, by probability or by rule, with a log of every frame it touched.

This kind of machine's kernel has no netem, so impairment is the harness's own job. The relay
runs in a namespace of its own between two veth pairs (see topology.create_tester_target with
``relay=True``) and forwards every frame from one side to the other through ``Impairer``.
The same seed and the same frames give the same decisions, so a run can be replayed.

    python -m harness.core.impair --a nc-ra --b nc-rb --seed 7 --loss 0.02 --reorder 0.01 \
        --duplicate 0.01 --log relay.jsonl
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import select
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from harness.core.errors import HarnessError
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import ACK, FIN, RST, SYN, TcpSegment, flags_text

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
A_TO_B, B_TO_A = "a>b", "b>a"


@dataclass(frozen=True)
class Impairment:
    """What happens to frames in one direction. Probabilities are per frame; ``drop_tcp``
    lists 1-based indices of TCP data segments (in this direction) to drop on purpose."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # probability that a frame is held back by reorder_ms
    reorder_ms: float = 5.0
    delay_ms: float = 0.0
    corrupt: float = 0.0  # flip one byte after the headers: the TCP/UDP checksum then fails
    drop_tcp: tuple[int, ...] = ()
    # Probability that a pure TCP ACK (no data, SYN, FIN or RST) is lost; each connection's
    # first one (the handshake's) is spared, so that every connection opens.
    ack_loss: float = 0.0

    def active(self) -> bool:
        return any(
            (
                self.loss,
                self.duplicate,
                self.reorder,
                self.delay_ms,
                self.corrupt,
                self.drop_tcp,
                self.ack_loss,
            )
        )


@dataclass
class Decision:
    """What the relay does with one frame: send these copies after these delays."""

    action: str  # pass, drop, duplicate, reorder, corrupt (combinations joined by +)
    copies: list[tuple[float, bytes]] = field(default_factory=list)  # (delay s, frame)


class Impairer:
    """The deterministic core: a frame and its direction in, a decision out."""

    def __init__(self, seed: int, rules: dict[str, Impairment]) -> None:
        self.rng = random.Random(seed)
        self.ack_rng = random.Random(seed)  # its own stream: the others' stay as they were
        self.rules = rules
        self.tcp_data_seen = {A_TO_B: 0, B_TO_A: 0}
        self.acks_seen: set[tuple[str, int, str, int]] = set()  # connections past their first

    def decide(self, frame: bytes, direction: str) -> Decision:
        rule = self.rules.get(direction, Impairment())
        # Draw every number in a fixed order, whatever the rule: the same seed then gives
        # the same stream of decisions even when rules change between runs.
        draws = [self.rng.random() for _ in range(4)]
        if rule.drop_tcp and self._is_tcp_data(frame):
            self.tcp_data_seen[direction] += 1
            if self.tcp_data_seen[direction] in rule.drop_tcp:
                return Decision("drop (rule)")
        if draws[0] < rule.loss:
            return Decision("drop")
        if rule.ack_loss and self._ack_lost(frame, rule.ack_loss):
            return Decision("drop (ACK)")
        delay = rule.delay_ms / 1000
        actions = []
        if draws[1] < rule.corrupt:
            frame = _corrupt(frame, self.rng)
            actions.append("corrupt")
        if draws[2] < rule.reorder:
            delay += rule.reorder_ms / 1000
            actions.append("reorder")
        copies = [(delay, frame)]
        if draws[3] < rule.duplicate:
            copies.append((delay, frame))
            actions.append("duplicate")
        return Decision("+".join(actions) or "pass", copies)

    def _ack_lost(self, frame: bytes, probability: float) -> bool:
        """Whether this pure ACK is lost: never the connection's first (the handshake's)."""
        try:
            packet = IPv4.parse(Ethernet.parse(frame).payload)
            seg = TcpSegment.parse(packet.payload) if packet.proto == PROTO_TCP else None
        except WireError:
            return False
        if seg is None or seg.payload or seg.flags & (SYN | FIN | RST) or not seg.flags & ACK:
            return False
        key = (packet.src, seg.sport, packet.dst, seg.dport)
        if key not in self.acks_seen:
            self.acks_seen.add(key)
            return False
        return self.ack_rng.random() < probability

    @staticmethod
    def _is_tcp_data(frame: bytes) -> bool:
        summary = describe(frame)
        return summary.startswith("TCP") and not summary.endswith("len=0")


def _corrupt(frame: bytes, rng: random.Random) -> bytes:
    """Flip one bit beyond the Ethernet, IP and transport headers (or in the last byte)."""
    position = rng.randrange(min(54, len(frame) - 1), len(frame))
    return frame[:position] + bytes([frame[position] ^ 0x01]) + frame[position + 1 :]


def describe(frame: bytes) -> str:
    """A short summary for the log: TCP segments get ports, flags, seq, ack, length."""
    try:
        eth = Ethernet.parse(frame)
        if eth.ethertype != ETH_P_IP:
            return f"ethertype 0x{eth.ethertype:04x} len={len(frame)}"
        packet = IPv4.parse(eth.payload)
        if packet.proto != PROTO_TCP:
            return f"IPv4 proto {packet.proto} {packet.src} > {packet.dst}"
        seg = TcpSegment.parse(packet.payload)
    except WireError as exc:
        return f"undecodable ({exc})"
    return (
        f"TCP {packet.src}:{seg.sport} > {packet.dst}:{seg.dport} [{flags_text(seg.flags)}] "
        f"seq={seg.seq} ack={seg.ack} len={len(seg.payload)}"
    )


class Relay:
    """Forwards frames between two interfaces of the relay namespace through an Impairer."""

    def __init__(self, iface_a: str, iface_b: str, impairer: Impairer, log: IO[str] | None) -> None:
        self.socks = {A_TO_B: _packet_socket(iface_a), B_TO_A: _packet_socket(iface_b)}
        self.out = {A_TO_B: self.socks[B_TO_A], B_TO_A: self.socks[A_TO_B]}
        self.impairer, self.log = impairer, log
        self.queue: list[tuple[float, int, str, bytes]] = []
        self.counter = 0
        self.start = time.monotonic()

    def run(self, until: float | None = None) -> None:
        by_fd = {s.fileno(): d for d, s in self.socks.items()}
        while until is None or time.monotonic() < until:
            timeout = max(0.0, self.queue[0][0] - time.monotonic()) if self.queue else 0.5
            ready = select.select(list(by_fd), [], [], timeout)[0]
            for fd in ready:
                self._receive(by_fd[fd])
            self._release()

    def _receive(self, direction: str) -> None:
        sock = self.socks[direction]
        for _ in range(256):
            try:
                frame, addr = sock.recvfrom(65536)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue  # our own forwarding, seen on the way out
            decision = self.impairer.decide(frame, direction)
            now = time.monotonic()
            for delay, copy in decision.copies:
                self.counter += 1
                heapq.heappush(self.queue, (now + delay, self.counter, direction, copy))
            self._record(direction, frame, decision.action)
        return

    def _release(self) -> None:
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now:
            _at, _n, direction, frame = heapq.heappop(self.queue)
            try:
                self.out[direction].send(frame)
            except OSError:
                self._record(direction, frame, "send failed")

    def _record(self, direction: str, frame: bytes, action: str) -> None:
        if self.log is None or action == "pass":
            return  # the log is the evidence of what the relay changed
        entry = {
            "t": round(time.monotonic() - self.start, 6),
            "dir": direction,
            "action": action,
            "frame": describe(frame),
        }
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()


def _packet_socket(iface: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((iface, ETH_P_ALL))
    sock.setblocking(False)
    return sock


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="netconform's impairment relay")
    parser.add_argument("--a", required=True, help="interface towards the tester")
    parser.add_argument("--b", required=True, help="interface towards the target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rules", default="{}", help='JSON: {"a>b": {...}, "b>a": {...}}')
    parser.add_argument("--log", help="JSON lines of every frame the relay changed")
    return parser.parse_args(argv)


def rules_from_json(text: str) -> dict[str, Impairment]:
    raw = json.loads(text)
    rules = {}
    for direction, values in raw.items():
        if direction not in (A_TO_B, B_TO_A):
            raise ValueError(f"direction must be {A_TO_B!r} or {B_TO_A!r}, got {direction!r}")
        values = dict(values)
        if "drop_tcp" in values:
            values["drop_tcp"] = tuple(values["drop_tcp"])
        rules[direction] = Impairment(**values)
    return rules


def rules_to_json(rules: dict[str, Impairment]) -> str:
    return json.dumps({d: asdict(r) for d, r in rules.items()})


RELAY_START_S = 20.0


class RelayProcess:
    """The relay, started in the relay namespace of a topology, stopped by PID."""

    def __init__(
        self, relay_netns: str, seed: int, rules: dict[str, Impairment], log_path: str
    ) -> None:
        from harness.core.process import NamespaceProcess

        argv = [
            sys.executable,
            "-m",
            "harness.core.impair",
            "--a",
            "nc-ra",
            "--b",
            "nc-rb",
            "--seed",
            str(seed),
            "--rules",
            rules_to_json(rules),
            "--log",
            log_path,
        ]
        self.log_path = log_path
        self.process = NamespaceProcess(relay_netns, argv)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until the relay's sockets are bound: a frame sent before would be lost (on a
        busy machine its start takes well over the 0.2 s it takes on an idle one)."""
        deadline = time.monotonic() + RELAY_START_S
        while not os.path.exists(ready_file(self.log_path)):
            if self.process.popen.poll() is not None:
                raise HarnessError(f"the impairment relay exited: {self.process.stderr_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessError(f"the impairment relay did not start in {RELAY_START_S:g} s")
            time.sleep(0.02)

    def log_lines(self) -> list[str]:
        try:
            with open(self.log_path) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        self.process.stop(grace=0.5)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    log = open(args.log, "a") if args.log else None  # noqa: SIM115  (open for the process' life)
    relay = Relay(args.a, args.b, Impairer(args.seed, rules_from_json(args.rules)), log)
    if args.log:
        Path(ready_file(args.log)).touch()  # the sockets are bound: frames are relayed now
    relay.run()


def ready_file(log_path: str) -> str:
    return f"{log_path}.ready"


if __name__ == "__main__":
    main()
