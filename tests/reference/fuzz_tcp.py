"""A seeded fuzzer of the reference TCP connection: a peer that sends plausible, odd and
random segments, an application that writes, reads, closes and aborts, and time that jumps;
after every step the connection's invariants are checked.

    python -m tests.reference.fuzz_tcp [STEPS] [SEED]     # prints the violations found

The invariants are what RFC 9293 makes true of any sender and receiver, whatever the peer
does: the send sequence space stays ordered (SND.UNA =< SND.NXT =< SND.MAX); data never goes
out before our SYN is acknowledged or at the SYN's own number; no ACK acknowledges more than
was received; no more is buffered than the receive buffer holds; the advertised right edge
never moves left (SHLD-14); bad input never raises.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

from reference_impl.tcp import seq
from reference_impl.tcp.connection import TcpConnection, TcpError
from reference_impl.tcp.profiles import LINUX, RFC, Profile
from reference_impl.tcp.states import State
from reference_impl.wire.tcp import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Mss,
    Sack,
    SackPermitted,
    TcpSegment,
    Timestamps,
    WindowScale,
)

LOCAL, REMOTE = 5000, 40000
MS = 1000
HALF = 1 << 30  # sequence distances beyond this are a bug, not wrap-around
STATES_WITHOUT_DATA = (State.SYN_SENT, State.SYN_RECEIVED)


@dataclass
class Fuzzer:
    rng: random.Random
    conn: TcpConnection
    peer_iss: int
    peer_nxt: int
    now: int = 0
    violations: list[str] = field(default_factory=list)
    steps: int = 0
    last_adv: int | None = None

    # -- one step ----------------------------------------------------------------------------

    def step(self) -> None:
        self.steps += 1
        roll = self.rng.random()
        try:
            if roll < 0.70:
                self._check_out(self.conn.receive_segment(self._segment(), now=self.now))
            elif roll < 0.85:
                self._advance_time()
            else:
                self._application()
        except TcpError:
            pass  # API misuse is the caller's error, raised clearly: allowed
        except Exception as exc:  # anything else escaping is a violation
            self.violations.append(f"step {self.steps}: {type(exc).__name__}: {exc}")
        self._check_state()

    def _advance_time(self) -> None:
        self.now += self.rng.choice((1, 10, 200, 1000, 5000)) * MS
        timer = self.conn.next_timer()
        if timer is not None and timer <= self.now:
            self._check_out(self.conn.on_timer(now=self.now))

    def _application(self) -> None:
        action = self.rng.random()
        if action < 0.5:
            self._check_out(
                self.conn.send(self.rng.randbytes(self.rng.randrange(1, 4000)), now=self.now)
            )
        elif action < 0.85:
            self.conn.read(self.rng.randrange(1, 5000), now=self.now)
            self._check_out(self.conn.outgoing())
        elif action < 0.97:
            self._check_out(self.conn.shutdown(now=self.now))
        else:
            self._check_out(self.conn.abort(now=self.now))

    # -- what the peer sends -----------------------------------------------------------------

    def _segment(self) -> TcpSegment:
        rng, conn = self.rng, self.conn
        kind = rng.random()
        if kind < 0.1:  # anything at all
            return TcpSegment(
                REMOTE,
                LOCAL,
                rng.getrandbits(32),
                rng.getrandbits(32),
                rng.getrandbits(12),
                rng.getrandbits(16),
                rng.randbytes(rng.randrange(0, 64)),
                self._options(),
            )
        flags = ACK | (PSH if rng.random() < 0.3 else 0)
        if kind < 0.2:
            flags = rng.choice((SYN, SYN | ACK, RST, FIN | ACK, URG | ACK, 0, ACK, ACK | PSH))
        elif rng.random() < 0.05:
            flags |= FIN
        start = seq.add(self.peer_nxt, rng.choice((0, 0, 0, -1, 1, rng.randrange(-3000, 3000))))
        ack = seq.add(
            conn.snd_una, rng.randrange(-50, max(seq.diff(conn.snd_max, conn.snd_una), 0) + 50)
        )
        size = rng.choice((0, 0, 1, 10, 100, 536, 1460, rng.randrange(0, 2000)))
        payload = rng.randbytes(size) if not flags & SYN else b""
        if start == self.peer_nxt and payload and rng.random() < 0.8:
            self.peer_nxt = seq.add(self.peer_nxt, len(payload) + (1 if flags & FIN else 0))
        window = rng.choice((0, 1, 100, 1460, 8192, 65535, rng.getrandbits(16)))
        return TcpSegment(REMOTE, LOCAL, start, ack, flags, window, payload, self._options())

    def _options(self) -> tuple:
        if self.rng.random() < 0.8:
            return ()
        pool = [
            Mss(self.rng.getrandbits(16)),
            WindowScale(self.rng.randrange(0, 20)),
            SackPermitted(),
            Timestamps(self.rng.getrandbits(32), self.rng.getrandbits(32)),
            Sack(((self.rng.getrandbits(32), self.rng.getrandbits(32)),)),
        ]
        return tuple(self.rng.sample(pool, self.rng.randrange(1, 3)))

    # -- the invariants ------------------------------------------------------------------------

    def _check_state(self) -> None:
        c = self.conn
        if c.state == State.CLOSED:
            return
        if not (
            0 <= seq.diff(c.snd_nxt, c.snd_una) < HALF
            and 0 <= seq.diff(c.snd_max, c.snd_nxt) < HALF
        ):
            self._violate(
                f"send space out of order: una {c.snd_una} nxt {c.snd_nxt} max {c.snd_max}"
            )
        buffered = len(c._rcv_buf) + c.ooo.queued_bytes
        if buffered > c.profile.rcvbuf:
            self._violate(f"{buffered} bytes buffered for a receive buffer of {c.profile.rcvbuf}")
        if not 0 <= seq.diff(c.rcv_adv, c.rcv_nxt) < HALF:
            self._violate(f"advertised edge {c.rcv_adv} behind RCV.NXT {c.rcv_nxt}")
        if c.state in STATES_WITHOUT_DATA:
            return  # RCV.NXT is not known before the peer's SYN
        if self.last_adv is not None and seq.lt(c.rcv_adv, self.last_adv):
            self._violate(f"right edge moved left: {self.last_adv} -> {c.rcv_adv} (SHLD-14)")
        self.last_adv = c.rcv_adv

    def _check_out(self, segments: list[TcpSegment]) -> None:
        c = self.conn
        for s in segments:
            if s.flags & RST:
                continue
            if s.payload and (c.snd_una == c.iss or s.seq == c.iss):
                self._violate(f"data {s.describe()} before our SYN was acknowledged (ISS {c.iss})")
            if s.flags & SYN and s.seq != c.iss:
                self._violate(f"a SYN at {s.seq}, not at ISS {c.iss}")
            if s.flags & ACK and seq.gt(s.ack, c.rcv_nxt):
                self._violate(f"ACK {s.ack} beyond RCV.NXT {c.rcv_nxt}")
            if seq.gt(seq.add(s.seq, s.seg_len), c.snd_max):
                self._violate(f"{s.describe()} ends beyond SND.MAX {c.snd_max}")
            if s.window > 0xFFFF:
                self._violate(f"window field {s.window}")

    def _violate(self, what: str) -> None:
        self.violations.append(f"step {self.steps} ({self.conn.state.value}): {what}")


def fuzzer(seed: int) -> Fuzzer:
    """A fuzzer on a connection in a state the seed picks: active, passive, or established."""
    rng = random.Random(seed)
    profile: Profile = rng.choice((RFC, LINUX, RFC.with_(rcvbuf=2000, mss=536, sack=True)))
    peer_iss = rng.getrandbits(32)
    syn = TcpSegment(REMOTE, LOCAL, peer_iss, 0, SYN, 65535, b"", (Mss(1460), SackPermitted()))
    if rng.random() < 0.3:
        conn = TcpConnection.connect(LOCAL, REMOTE, iss=rng.getrandbits(32), now=0, profile=profile)
        conn.outgoing()
        return Fuzzer(rng, conn, peer_iss, seq.add(peer_iss, 1))
    conn = TcpConnection.accept_syn(syn, iss=rng.getrandbits(32), now=0, profile=profile)
    conn.outgoing()
    fz = Fuzzer(rng, conn, peer_iss, seq.add(peer_iss, 1))
    if rng.random() < 0.7:  # the handshake completes
        conn.receive_segment(
            TcpSegment(REMOTE, LOCAL, fz.peer_nxt, conn.snd_nxt, ACK, 65535), now=0
        )
    return fz


def run(steps: int, seed: int = 1, steps_per_connection: int = 400) -> tuple[int, list[str]]:
    """Fuzz ``steps`` steps on fresh connections; return (steps, violations)."""
    done, violations, n = 0, [], 0
    while done < steps:
        fz = fuzzer(seed * 1_000_003 + n)
        n += 1
        for _ in range(min(steps_per_connection, steps - done)):
            fz.step()
        done += fz.steps
        violations += [
            f"connection {n} (seed {seed * 1_000_003 + n - 1}): {v}" for v in fz.violations
        ]
    return done, violations


if __name__ == "__main__":
    total, found = run(
        int(sys.argv[1]) if len(sys.argv) > 1 else 100_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 1,
    )
    print(f"{total} steps, {len(found)} invariant violations")
    for line in found[:50]:
        print(line)
