"""The Linux agent: the kernel's TCP driven through the control protocol.

Runs inside the target namespace (``python -m harness.hosts.linux_agent``) and turns each
request into socket calls. Standard library only, so that it starts fast.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import os
import select
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

from harness.core.clock import receive_until
from harness.hosts.agent import PROTOCOL_VERSION, RequestError, serve

TCP_INFO_HEAD = struct.Struct("=8B24I")
TCP_INFO_FIELDS = (
    "rto_us",
    "ato_us",
    "snd_mss",
    "rcv_mss",
    "unacked",
    "sacked",
    "lost",
    "retrans",
    "fackets",
    "last_data_sent_ms",
    "last_ack_sent_ms",
    "last_data_recv_ms",
    "last_ack_recv_ms",
    "pmtu",
    "rcv_ssthresh",
    "rtt_us",
    "rttvar_us",
    "snd_ssthresh",
    "snd_cwnd",
    "advmss",
    "reordering",
    "rcv_rtt_us",
    "rcv_space",
    "total_retrans",
)
TCP_STATES = (
    "",
    "ESTABLISHED",
    "SYN-SENT",
    "SYN-RECEIVED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "CLOSED",
    "CLOSE-WAIT",
    "LAST-ACK",
    "LISTEN",
    "CLOSING",
)
SHUTDOWN_HOW = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}
SOCKET_OPTIONS = {
    "rcvbuf": (socket.SOL_SOCKET, socket.SO_RCVBUF),
    "sndbuf": (socket.SOL_SOCKET, socket.SO_SNDBUF),
    "nodelay": (socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "quickack": (socket.IPPROTO_TCP, socket.TCP_QUICKACK),
    "ttl": (socket.IPPROTO_IP, socket.IP_TTL),
}


_PATTERN = bytes(range(256))


def generated(size: int) -> bytes:
    """The bytes a ``send`` with ``size`` carries: offset modulo 256 (the README says so).
    Made in one piece when ``size`` is a multiple of 256 (no second copy to cut it)."""
    whole, rest = divmod(size, 256)
    return _PATTERN * whole + _PATTERN[:rest] if rest else _PATTERN * whole


_BLOCK = _PATTERN * 256  # 64 KiB


def generated_piece(offset: int, size: int) -> bytes | memoryview:
    """``generated(n)[offset : offset + size]`` for any ``n`` past its end, without making
    the whole: a view of a fixed block when it fits (a sender that takes what its buffer has
    room for, piece by piece, skips writing out the whole transfer first)."""
    start = offset % 256
    if start + size <= len(_BLOCK):
        return memoryview(_BLOCK)[start : start + size]
    return generated(start + size)[start:]


class LinuxAgent:
    def __init__(self) -> None:
        self.handles: dict[int, socket.socket] = {}
        self.next_handle = 1

    def handlers(self) -> dict[str, Any]:
        return {
            "hello": self.hello,
            "listen": self.listen,
            "accept": self.accept,
            "connect": self.connect,
            "send": self.send,
            "send_urgent": self.send_urgent,
            "recv": self.recv,
            "shutdown": self.shutdown,
            "close": self.close,
            "abort": self.abort,
            "set": self.set,
            "drain": self.drain,
            "info": self.info,
            "quit": lambda _r: {"bye": True},
        }

    def _add(self, sock: socket.socket) -> int:
        handle = self.next_handle
        self.next_handle += 1
        self.handles[handle] = sock
        return handle

    def _get(self, request: dict[str, Any]) -> socket.socket:
        handle = int(request["handle"])
        if handle not in self.handles:
            raise RequestError("no_such_handle", f"no handle {handle}")
        return self.handles[handle]

    def hello(self, _request: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": "linux",
            "version": PROTOCOL_VERSION,
            "ops": sorted(self.handlers()),
            "kernel": os.uname().release,
        }

    def listen(self, request: dict[str, Any]) -> dict[str, Any]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _apply_options(sock, request.get("options", {}))
        with _os_errors():
            sock.bind((request.get("ip", "0.0.0.0"), int(request["port"])))
            sock.listen(int(request.get("backlog", 16)))
        return {"handle": self._add(sock)}

    def accept(self, request: dict[str, Any]) -> dict[str, Any]:
        listener = self._get(request)
        _wait(listener, readable=True, timeout=float(request.get("timeout", 5.0)))
        with _os_errors():
            conn, peer = listener.accept()
        return {"handle": self._add(conn), "peer": list(peer)}

    def connect(self, request: dict[str, Any]) -> dict[str, Any]:
        """Start a connection and answer at once: the tester completes the handshake."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _apply_options(sock, request.get("options", {}))
        if "sport" in request:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", int(request["sport"])))
        sock.setblocking(False)
        code = sock.connect_ex((request["ip"], int(request["port"])))
        if code not in (0, errno.EINPROGRESS):
            raise RequestError("os_error", os.strerror(code))
        return {"handle": self._add(sock), "sport": sock.getsockname()[1]}

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        sock = self._get(request)
        data = (
            base64.b64decode(request["data"])
            if "data" in request
            else generated(int(request["size"]))
        )
        timeout = float(request.get("timeout", 5.0))
        _wait_connected(sock, timeout)
        sock.settimeout(timeout)
        try:
            with _os_errors():
                sock.sendall(data)
        finally:
            sock.setblocking(False)
        return {"sent": len(data)}

    def send_urgent(self, request: dict[str, Any]) -> dict[str, Any]:
        """MSG_OOB: the urgent pointer goes after the last byte (RFC 9293 MUST-62)."""
        sock = self._get(request)
        data = base64.b64decode(request["data"])
        _wait_connected(sock, float(request.get("timeout", 5.0)))
        with _os_errors():
            sock.send(data, socket.MSG_OOB)
        return {"sent": len(data)}

    def recv(self, request: dict[str, Any]) -> dict[str, Any]:
        """Read up to ``max`` bytes, returning once ``min`` arrived, at EOF or at the timeout."""
        sock = self._get(request)
        limit, wanted = int(request.get("max", 65536)), int(request.get("min", 1))
        chunks: list[bytes] = []
        eof = _read(sock, float(request.get("timeout", 5.0)), wanted, limit, chunks.append)
        data = b"".join(chunks)
        return {"data": base64.b64encode(data).decode(), "size": len(data), "eof": eof}

    def drain(self, request: dict[str, Any]) -> dict[str, Any]:
        """Read ``size`` bytes (or to EOF or the timeout) and answer only their SHA-256:
        bulk transfers are checked without shipping the bytes through the protocol."""
        sock = self._get(request)
        size = int(request["size"])
        digest, counted = hashlib.sha256(), [0]

        def take(chunk: bytes) -> None:
            digest.update(chunk)
            counted[0] += len(chunk)

        eof = _read(sock, float(request.get("timeout", 60.0)), size, size, take)
        return {"size": counted[0], "sha256": digest.hexdigest(), "eof": eof}

    def shutdown(self, request: dict[str, Any]) -> dict[str, Any]:
        how = SHUTDOWN_HOW.get(str(request.get("how", "wr")))
        if how is None:
            raise RequestError("bad_request", "how must be rd, wr or rdwr")
        with _os_errors():
            self._get(request).shutdown(how)
        return {}

    def close(self, request: dict[str, Any]) -> dict[str, Any]:
        self._get(request).close()
        del self.handles[int(request["handle"])]
        return {}

    def abort(self, request: dict[str, Any]) -> dict[str, Any]:
        """Close with SO_LINGER zero: the kernel sends RST instead of FIN."""
        sock = self._get(request)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return self.close(request)

    def set(self, request: dict[str, Any]) -> dict[str, Any]:
        _apply_options(self._get(request), {request["option"]: request["value"]})
        return {}

    def info(self, request: dict[str, Any]) -> dict[str, Any]:
        raw = self._get(request).getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_HEAD.size)
        values = TCP_INFO_HEAD.unpack(raw[: TCP_INFO_HEAD.size])
        state = values[0]
        info: dict[str, Any] = {
            "state": TCP_STATES[state] if state < len(TCP_STATES) else str(state)
        }
        info.update(zip(TCP_INFO_FIELDS, values[8:], strict=True))
        info["snd_wscale"], info["rcv_wscale"] = values[6] & 0x0F, values[6] >> 4
        return info


def _apply_options(sock: socket.socket, options: dict[str, Any]) -> None:
    for name, value in options.items():
        if name == "keepalive":
            _set_keepalive(sock, int(value))
            continue
        if name not in SOCKET_OPTIONS:
            raise RequestError("unsupported", f"option {name!r}")
        level, opt = SOCKET_OPTIONS[name]
        sock.setsockopt(level, opt, int(value))


def _set_keepalive(sock: socket.socket, seconds: int) -> None:
    """Keep-alives after ``seconds`` of idle and every ``seconds`` after an unanswered one;
    0 turns them off (the default, RFC 9293 MUST-25)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1 if seconds else 0)
    if seconds:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, seconds)


def _wait(sock: socket.socket, *, readable: bool, timeout: float) -> None:
    r, w = ([sock], []) if readable else ([], [sock])
    if not any(select.select(r, w, [], timeout)[:2]):
        raise RequestError("timeout", f"nothing happened within {timeout} s")


def _wait_connected(sock: socket.socket, timeout: float) -> None:
    _wait(sock, readable=False, timeout=timeout)
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise RequestError(
            "refused" if code == errno.ECONNREFUSED else "os_error", os.strerror(code)
        )


def _read(
    sock: socket.socket, seconds: float, wanted: int, most: int, take: Callable[[bytes], object]
) -> bool:
    """Hand what ``sock`` delivers to ``take`` until ``wanted`` bytes came (never reading more
    than ``most``) or ``seconds`` passed; True if the peer's EOF came first. The socket is
    left non-blocking."""
    sock.setblocking(False)
    got = 0

    def one(timeout: float) -> bytes | None:
        if not select.select([sock], [], [], timeout)[0]:
            return None
        with _os_errors():
            return sock.recv(min(1 << 20, most - got))

    if wanted <= 0 or most <= 0:
        return False
    for chunk in receive_until(one, seconds):
        if not chunk:
            return True
        take(chunk)
        got += len(chunk)
        if got >= min(wanted, most):
            break
    return False


@contextlib.contextmanager
def _os_errors() -> Iterator[None]:
    """Map socket exceptions to the protocol's error names."""
    try:
        yield
    except (TimeoutError, BlockingIOError) as exc:
        raise RequestError("timeout", str(exc) or "timed out") from exc
    except ConnectionRefusedError as exc:
        raise RequestError("refused", str(exc)) from exc
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise RequestError("reset", str(exc)) from exc
    except OSError as exc:
        raise RequestError("os_error", str(exc)) from exc


def main() -> None:
    serve(LinuxAgent().handlers(), sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
