"""The reference host running as a stack: frames on a TAP device, the control protocol on
stdin/stdout (or a Unix socket), wall-clock time fed to the sans-I/O core.

    python -m harness.hosts.refstack --tap TAP --ip 198.18.0.2/24 --mac 02:.. \
        [--gateway IP] [--neighbor IP=MAC] [--profile rfc|linux] [--ctl SOCKET]

This is exactly how a student's stack is started by the ``cmd:`` target; the ``ref`` target
is this command line.
"""

from __future__ import annotations

import argparse
import base64
import errno
import fcntl
import hashlib
import json
import os
import select
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core.clock import now_us
from harness.hosts import tap_offload
from harness.hosts.agent import OPERATIONS, OPTIONAL_OPERATIONS, RequestError
from harness.hosts.linux_agent import generated_piece
from reference_impl.host import DEFAULT_BACKLOG, ConnKey, Host, HostConfig, HostError
from reference_impl.tcp.connection import TcpError
from reference_impl.tcp.profiles import PROFILES, Profile
from reference_impl.tcp.states import State

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
FRAMES_PER_WAKEUP = 256


def open_tap(name: str) -> int:
    """Attach to an existing TAP device (made by the harness): no packet info header, a
    virtio-net header before every frame."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
    return fd


@dataclass
class Pending:
    """A request that waits for the network: answered by ``check`` or at the deadline."""

    check: Callable[[], dict[str, Any] | None]
    deadline: int
    on_timeout: Callable[[], dict[str, Any]]


class RefStack:
    # The kernel completes TCP checksums, segments merged runs and hands up merged runs
    # (tap_offload). A stack whose hooks read or rewrite the frames (tests/stacks) turns this
    # off: its frames carry whole checksums, both ways, one segment each.
    OFFLOAD_TCP_CHECKSUMS = True

    def __init__(
        self, host: Host, tap_fd: int, ctl_in: int, ctl_out: Callable[[bytes], None]
    ) -> None:
        self.host, self.tap, self.ctl_in, self.ctl_out = host, tap_fd, ctl_in, ctl_out
        host.tcp_checksum_offload = self.OFFLOAD_TCP_CHECKSUMS
        # Runs of full segments go down as one frame the kernel segments (tap_offload).
        self.merge_segments = self.OFFLOAD_TCP_CHECKSUMS
        # Merged runs and verified checksums up from the kernel, where its topology makes them.
        self.receive_offload = (
            self.OFFLOAD_TCP_CHECKSUMS and tap_fd >= 0 and tap_offload.accept_offloads(tap_fd)
        )
        self.handles: dict[int, tuple[str, Any]] = {}
        self.next_handle = 1
        self.pending: Pending | None = None
        self.buffer = b""
        self.listen_profiles: dict[int, Profile] = {}
        self.running = True
        self.tx_dropped = 0

    # -- the loop ---------------------------------------------------------------------------

    def serve(self) -> None:
        while self.running:
            ready = select.select([self.tap, self.ctl_in], [], [], self._wait())[0]
            if self.tap in ready:
                self._read_frames()
            timer = self.host.next_timer()
            if timer is not None and timer <= now_us():
                self._write_frames(self.host.on_timer(now=now_us()))
            if self.ctl_in in ready and self.pending is None:
                self._read_control()
            self._write_frames(self.host.flush())
            self._settle_pending()
            self.tick(now_us())

    # -- hooks for stacks built on this loop (tests/stacks: deliberately different stacks) -

    def inbound(self, frame: bytes) -> bytes | None:
        """A frame from the TAP device before the host sees it; None drops it."""
        return frame

    def outbound(self, frames: list[bytes]) -> list[bytes]:
        """Frames the host sends, before they reach the TAP device."""
        return frames

    def tick(self, now: int) -> None:
        """Called once per loop turn; ``next_deadline`` says when the next is wanted."""

    def next_deadline(self) -> int | None:
        return None

    def _wait(self) -> float:
        """Sleep until the next host timer or the pending request's deadline; frames and
        control lines wake the loop earlier."""
        candidates = (self.host.next_timer(), self.pending and self.pending.deadline)
        deadlines = [t for t in (*candidates, self.next_deadline()) if t]
        if not deadlines:
            return 1.0
        return max(0.0, (min(deadlines) - now_us()) / 1e6)

    def _read_frames(self) -> None:
        """What the device holds, up to FRAMES_PER_WAKEUP frames, then what they made."""
        for _ in range(FRAMES_PER_WAKEUP):
            try:
                data = os.read(self.tap, tap_offload.READ_SIZE)
            except BlockingIOError:
                break
            if self.receive_offload:
                frame, verified, segment_size = tap_offload.received(data)
            else:
                frame, verified, segment_size = data[tap_offload.HEADER.size :], False, 0
            kept = self.inbound(frame)
            if kept is not None:
                self.host.deliver_frame(
                    kept,
                    now=now_us(),
                    tcp_checksum_verified=verified,
                    tcp_segment_size=segment_size,
                )
        self._write_frames(self.host.flush())

    def _write_frames(self, frames: list[bytes]) -> None:
        if not frames:
            return
        frames = self.outbound(frames)
        if not self.OFFLOAD_TCP_CHECKSUMS:
            for frame in frames:
                self._write(tap_offload.AS_IS + frame)
            return
        done = 0
        for data, count in tap_offload.with_headers(frames, merge=self.merge_segments):
            try:
                self._write(data)
            except OSError as exc:
                if count == 1 or exc.errno != errno.EINVAL:
                    raise
                self._stop_merging(frames[done:])
                return
            done += count

    def _stop_merging(self, frames: list[bytes]) -> None:
        """The kernel refused a merged frame (EINVAL: it does not take that GSO header):
        merging stops for good, and these frames go one by one."""
        self.merge_segments = False
        print("refstack: the TAP refused a merged segment; sending one by one", file=sys.stderr)
        for frame in frames:
            self.write_frame(frame)

    def write_frame(self, frame: bytes) -> bool:
        """One frame to the TAP device, as it is (no hook sees it); False if the device's
        queue was full (or it was down) and the frame was dropped."""
        if self.OFFLOAD_TCP_CHECKSUMS:
            return self._write(tap_offload.complete_tcp_checksum(frame) + frame)
        return self._write(tap_offload.AS_IS + frame)

    def _write(self, data: bytes) -> bool:
        try:
            os.write(self.tap, data)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise
            self.tx_dropped += 1
            return False
        return True

    def _read_control(self) -> None:
        chunk = os.read(self.ctl_in, 65536)
        if not chunk:
            self.running = False
            return
        self.buffer += chunk
        self._take_buffered_lines()

    def _settle_pending(self) -> None:
        """Answer the pending request if it can be answered; then take buffered requests."""
        while self.pending is not None:
            reply = self.pending.check()
            if reply is None and now_us() >= self.pending.deadline:
                reply = self.pending.on_timeout()
            if reply is None:
                break
            self.pending = None
            self._reply(reply)
            self._take_buffered_lines()
        self._write_frames(self.host.flush())

    def _take_buffered_lines(self) -> None:
        while b"\n" in self.buffer and self.pending is None and self.running:
            line, _, self.buffer = self.buffer.partition(b"\n")
            if line.strip():
                self._handle(line)

    def _reply(self, reply: dict[str, Any]) -> None:
        self.ctl_out(json.dumps(reply, separators=(",", ":")).encode() + b"\n")

    def _handle(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise RequestError("bad_request", "a request is a JSON object")
            handler = getattr(self, f"op_{request.get('op')}", None)
            if handler is None:
                raise RequestError("unsupported", f"no operation {request.get('op')!r}")
            result = handler(request)
        except json.JSONDecodeError as exc:
            self._reply({"ok": False, "error": "bad_request", "message": f"not JSON: {exc}"})
            return
        except RequestError as exc:
            self._reply({"ok": False, "error": exc.error, "message": str(exc)})
            return
        except (KeyError, TypeError, ValueError) as exc:
            self._reply({"ok": False, "error": "bad_request", "message": f"bad field: {exc}"})
            return
        except (HostError, TcpError) as exc:
            self._reply({"ok": False, "error": "os_error", "message": str(exc)})
            return
        if isinstance(result, Pending):
            self.pending = result
        else:
            self._reply({"ok": True, **result})

    # -- handles ----------------------------------------------------------------------------

    def _add(self, kind: str, value: Any) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = (kind, value)
        return handle

    def _get(self, request: dict[str, Any], kind: str) -> Any:
        entry = self.handles.get(int(request["handle"]))
        if entry is None or entry[0] != kind:
            raise RequestError("no_such_handle", f"no {kind} handle {request['handle']}")
        return entry[1]

    def _conn(self, request: dict[str, Any]) -> tuple[ConnKey, Any]:
        key = self._get(request, "conn")
        conn = self.host.connections.get(key)
        if conn is None:
            raise RequestError("closed", f"connection {key} is gone")
        return key, conn

    @staticmethod
    def _deadline(request: dict[str, Any]) -> int:
        return now_us() + int(float(request.get("timeout", 5.0)) * 1e6)

    # -- operations -------------------------------------------------------------------------

    def op_hello(self, _r: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": "ref",
            "version": 1,
            "ops": [*OPERATIONS, *OPTIONAL_OPERATIONS],
            "profile": self.host.config.profile.name,
        }

    def op_quit(self, _r: dict[str, Any]) -> dict[str, Any]:
        self.running = False
        return {"bye": True}

    def op_listen(self, r: dict[str, Any]) -> dict[str, Any]:
        port = int(r["port"])
        profile = _with_options(self.host.config.profile, r.get("options", {}))
        self.host.listen(port, profile, int(r.get("backlog", DEFAULT_BACKLOG)))
        return {"handle": self._add("listener", port)}

    def op_accept(self, r: dict[str, Any]) -> Pending:
        port = self._get(r, "listener")

        def check() -> dict[str, Any] | None:
            key = self.host.accept(port)
            return (
                None
                if key is None
                else {"ok": True, "handle": self._add("conn", key), "peer": [key[1], key[2]]}
            )

        return Pending(check, self._deadline(r), _timeout("accept"))

    def op_connect(self, r: dict[str, Any]) -> dict[str, Any]:
        profile = _with_options(self.host.config.profile, r.get("options", {}))
        key = self.host.connect(
            str(r["ip"]), int(r["port"]), now=now_us(), sport=r.get("sport"), profile=profile
        )
        return {"handle": self._add("conn", key), "sport": key[0]}

    def op_send(self, r: dict[str, Any]) -> Pending:
        key, conn = self._conn(r)
        if "data" in r:
            given = memoryview(base64.b64decode(r["data"]))
            total = len(given)

            def piece(offset: int, size: int) -> bytes | memoryview:
                return given[offset : offset + size]
        else:
            total, piece = int(r["size"]), generated_piece
        state = {"offset": 0}

        def check() -> dict[str, Any] | None:
            live = self.host.connections.get(key)
            if live is None or live.state == State.CLOSED:
                return {
                    "ok": False,
                    "error": "reset",
                    "message": f"connection {live and live.error}",
                }
            if live.state in (State.SYN_SENT, State.SYN_RECEIVED):
                return None
            room = min(live.send_space, total - state["offset"])
            if room > 0:
                self.host.tcp_send(key, piece(state["offset"], room), now=now_us())
                state["offset"] += room
            return {"ok": True, "sent": total} if state["offset"] == total else None

        del conn
        return Pending(check, self._deadline(r), _timeout("send"))

    def op_send_urgent(self, r: dict[str, Any]) -> dict[str, Any]:
        key, conn = self._conn(r)
        data = base64.b64decode(r["data"])
        if len(data) > conn.send_space:
            raise RequestError("bad_request", f"{len(data)} bytes do not fit the send buffer")
        self.host.tcp_send(key, data, now=now_us(), urgent=True)
        return {"sent": len(data)}

    def op_recv(self, r: dict[str, Any]) -> Pending:
        key, _conn = self._conn(r)
        limit, wanted = int(r.get("max", 65536)), int(r.get("min", 1))
        got = bytearray()

        def finish(eof: bool) -> dict[str, Any]:
            return {
                "ok": True,
                "data": base64.b64encode(bytes(got)).decode(),
                "size": len(got),
                "eof": eof,
            }

        def check() -> dict[str, Any] | None:
            live = self.host.connections.get(key)
            if live is None:
                return finish(True)
            got.extend(self.host.tcp_read(key, limit - len(got), now=now_us()))
            if len(got) >= min(wanted, limit):
                return finish(False)
            if live.at_eof or live.state == State.CLOSED:
                return finish(True)
            return None

        return Pending(check, self._deadline(r), lambda: finish(False))

    def op_drain(self, r: dict[str, Any]) -> Pending:
        key, _conn = self._conn(r)
        size = int(r["size"])
        digest, got = hashlib.sha256(), [0]

        def finish(eof: bool) -> dict[str, Any]:
            return {"ok": True, "size": got[0], "sha256": digest.hexdigest(), "eof": eof}

        def check() -> dict[str, Any] | None:
            live = self.host.connections.get(key)
            if live is None:
                return finish(True)
            data = self.host.tcp_read(key, size - got[0], now=now_us())
            digest.update(data)
            got[0] += len(data)
            if got[0] >= size:
                return finish(False)
            return finish(True) if live.at_eof or live.state == State.CLOSED else None

        return Pending(check, self._deadline(r), lambda: finish(False))

    def op_shutdown(self, r: dict[str, Any]) -> dict[str, Any]:
        key, _conn = self._conn(r)
        if r.get("how", "wr") in ("wr", "rdwr"):
            self.host.tcp_shutdown(key, now=now_us())
        return {}

    def op_close(self, r: dict[str, Any]) -> dict[str, Any]:
        entry = self.handles.pop(int(r["handle"]), None)
        kind, value = entry if entry is not None else (None, None)
        if kind == "listener":
            self.host.unlisten(int(str(value)))
        elif kind == "conn" and value in self.host.connections:
            if self.host.connections[value].state not in (State.CLOSED, State.TIME_WAIT):
                self.host.tcp_release(value, now=now_us())  # unread data is lost: RST (SHLD-3)
        elif kind is None:
            raise RequestError("no_such_handle", f"no handle {r['handle']}")
        return {}

    def op_abort(self, r: dict[str, Any]) -> dict[str, Any]:
        key, _conn = self._conn(r)
        self.host.tcp_abort(key, now=now_us())
        self.handles.pop(int(r["handle"]), None)
        return {}

    def op_set(self, r: dict[str, Any]) -> dict[str, Any]:
        key, conn = self._conn(r)
        if r["option"] == "keepalive":  # seconds of idle before a probe, and between them
            self.host.connection(key).set_keepalive(int(r["value"]) * 1_000_000, now=now_us())
            return {}
        conn.profile = _with_options(conn.profile, {r["option"]: r["value"]})
        return {}

    def op_info(self, r: dict[str, Any]) -> dict[str, Any]:
        _key, conn = self._conn(r)
        return conn.info()


def _with_options(profile: Profile, options: dict[str, Any]) -> Profile:
    changes: dict[str, object] = {}
    for name, value in options.items():
        if name == "rcvbuf":
            changes["rcvbuf"] = max(int(value), profile.mss)
        elif name == "sndbuf":
            changes["sndbuf"] = int(value)
        elif name == "nodelay":
            changes["nagle"] = not bool(value)
        elif name == "quickack":
            changes["delayed_ack"] = not bool(value)
        elif name == "ttl" and 1 <= int(value) <= 255:
            changes["ttl"] = int(value)
        else:
            raise RequestError("unsupported", f"option {name!r}")
    return profile.with_(**changes) if changes else profile


def _timeout(op: str) -> Callable[[], dict[str, Any]]:
    return lambda: {"ok": False, "error": "timeout", "message": f"{op} timed out"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="the netconform reference host on a TAP device")
    parser.add_argument("--tap", required=True)
    parser.add_argument("--ip", required=True, help="address/prefix, e.g. 198.18.0.2/24")
    parser.add_argument("--mac", required=True)
    parser.add_argument("--gateway")
    parser.add_argument("--neighbor", action="append", default=[], metavar="IP=MAC")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="rfc")
    parser.add_argument("--ctl", help="serve the control protocol on this Unix socket")
    return parser.parse_args(argv)


StackFactory = Callable[[Host, int, int, Callable[[bytes], None]], RefStack]


def main(argv: list[str] | None = None, make_stack: StackFactory = RefStack) -> None:
    """Run a stack on the TAP device; ``make_stack`` builds it (a RefStack or a derived one)."""
    args = parse_args(argv)
    ip, _, prefix = args.ip.partition("/")
    neighbors = dict(item.split("=", 1) for item in args.neighbor)
    host = Host(
        HostConfig(
            mac=args.mac.lower(),
            ip=ip,
            prefixlen=int(prefix or 24),
            gateway=args.gateway,
            profile=PROFILES[args.profile],
            neighbors=neighbors,
        )
    )
    tap = open_tap(args.tap)
    if args.ctl:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(args.ctl)
        server.listen(1)
        conn, _ = server.accept()
        make_stack(host, tap, conn.fileno(), conn.sendall).serve()
    else:
        out = sys.stdout.buffer

        def write(data: bytes) -> None:
            out.write(data)
            out.flush()

        make_stack(host, tap, sys.stdin.fileno(), write).serve()


if __name__ == "__main__":
    main()
