"""The control protocol between the harness and a target's application side.

JSON lines: the harness writes one request object per line, the target answers with exactly
one reply object per line, in order. The README holds the specification; this module holds
the client the harness uses and the small server loop our own agents are built on. It
imports only the standard library, because agents start it in a fresh process per run.

    request  {"op": "listen", "port": 5000}
    reply    {"ok": true, "handle": 1}
    failure  {"ok": false, "error": "unsupported", "message": "..."}
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from harness.core.errors import TargetError, Unsupported

PROTOCOL_VERSION = 1
OPERATIONS = (
    "hello",
    "listen",
    "accept",
    "connect",
    "send",
    "recv",
    "drain",
    "shutdown",
    "close",
    "abort",
    "set",
    "info",
    "quit",
)
# Operations that wait on the network: the client's timeout goes to the target with them
# (a target's own default is a few seconds; a long drain would end short and look damaged).
WAITING_OPERATIONS = ("accept", "recv", "send", "connect", "drain")
# Operations a stack may offer beyond those (a test that needs one a target lacks is
# UNSUPPORTED): they are only tried when the target's ``hello`` lists them.
OPTIONAL_OPERATIONS = ("send_urgent",)
ERRORS = (
    "unsupported",
    "bad_request",
    "no_such_handle",
    "timeout",
    "refused",
    "reset",
    "closed",
    "os_error",
)
# Added to an operation's own timeout before the harness gives up on the reply.
REPLY_GRACE_S = 3.0
MAX_REPLY_BYTES = 16 * 1024 * 1024


class AgentReplyError(Exception):
    """The target answered a request with ``ok: false``."""

    def __init__(self, op: str, error: str, message: str) -> None:
        super().__init__(f"{op}: {error}: {message}")
        self.op, self.error, self.message = op, error, message


class AgentClient:
    """Speaks the control protocol to a target over its stdin/stdout or a Unix socket."""

    def __init__(
        self,
        name: str,
        read_fd: int,
        write: Callable[[bytes], None],
        exit_status: Callable[[], str] = lambda: "still running",
    ) -> None:
        self.name = name
        self._read_fd, self._write_bytes, self._exit_status = read_fd, write, exit_status
        self.operations: frozenset[str] = frozenset()
        self.transcript: list[str] = []  # every line both ways, for the report
        self._buffer = b""

    @classmethod
    def over_process(
        cls, proc: subprocess.Popen[bytes], name: str, status: Callable[[], str] | None = None
    ) -> AgentClient:
        """``status`` says how the process ended (default: its exit status)."""
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def write(data: bytes) -> None:
            stdin.write(data)
            stdin.flush()

        return cls(name, proc.stdout.fileno(), write, status or (lambda: _status(proc)))

    @classmethod
    def over_socket(
        cls,
        sock: socket.socket,
        proc: subprocess.Popen[bytes],
        name: str,
        status: Callable[[], str] | None = None,
    ) -> AgentClient:
        return cls(name, sock.fileno(), sock.sendall, status or (lambda: _status(proc)))

    def hello(self, timeout: float = 10.0, grace: float | None = None) -> dict[str, Any]:
        reply = self.request("hello", timeout=timeout, grace=grace)
        self.operations = frozenset(reply.get("ops", OPERATIONS))
        return reply

    def request(
        self, op: str, *, timeout: float = 5.0, grace: float | None = None, **args: Any
    ) -> dict[str, Any]:
        """Send one request and return its reply; raise on failure.

        ``timeout`` is the operation's own limit (sent to the target when the operation
        waits); the harness waits REPLY_GRACE_S longer before it declares the target hung.
        """
        if self.operations and op not in self.operations:
            raise Unsupported(f"target {self.name} does not implement '{op}'")
        message = {"op": op, **args}
        if op in WAITING_OPERATIONS:
            message.setdefault("timeout", timeout)
        self._write(message)
        reply = self._read_reply(op, timeout + (REPLY_GRACE_S if grace is None else grace))
        if reply.get("ok") is True:
            return reply
        error = str(reply.get("error", "unknown"))
        if error == "unsupported":
            raise Unsupported(f"target {self.name} does not support {op}: {reply.get('message')}")
        raise AgentReplyError(op, error, str(reply.get("message", "")))

    def _write(self, message: dict[str, Any]) -> None:
        line = json.dumps(message, separators=(",", ":"))
        self.transcript.append("> " + line)
        try:
            self._write_bytes(line.encode() + b"\n")
        except (BrokenPipeError, OSError) as exc:
            raise TargetError(f"target {self.name} is gone ({self._exit_status()}): {exc}") from exc

    def _read_reply(self, op: str, wait: float) -> dict[str, Any]:
        line = self._read_line(op, wait)
        self.transcript.append("< " + line.decode(errors="replace"))
        try:
            reply = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TargetError(
                f"target {self.name} answered '{op}' with a line that is not JSON: {line[:200]!r}"
            ) from exc
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            raise TargetError(
                f"target {self.name} answered '{op}' without a boolean 'ok': {line[:200]!r}"
            )
        return reply

    def _read_line(self, op: str, wait: float) -> bytes:
        fd = self._read_fd
        deadline = time.monotonic() + wait
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_REPLY_BYTES:
                raise TargetError(
                    f"target {self.name} sent over {MAX_REPLY_BYTES} bytes without a newline"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TargetError(f"target {self.name} did not answer '{op}' within {wait:.1f} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise TargetError(
                    f"target {self.name} closed its control channel during '{op}' "
                    f"({self._exit_status()})"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.strip()


def process_status(proc: subprocess.Popen[bytes]) -> str:
    return _status(proc)


EXIT_GRACE_S = 1.0  # a process that has just closed its end of the channel is exiting


def _status(proc: subprocess.Popen[bytes]) -> str:
    """How the process ended. Asked when its channel broke, so it is given a moment to
    finish exiting: otherwise a crash is often reported as "still running"."""
    try:
        code = proc.wait(timeout=EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        return "still running"
    return f"exit status {code}"


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class RequestError(Exception):
    """Raised by an agent's handler to answer ``ok: false`` with an error name."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


def serve(
    handlers: dict[str, Handler], stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout
) -> None:
    """The agent side: read requests, dispatch by ``op``, write one reply each, until quit/EOF."""
    for line in stdin:
        if not line.strip():
            continue
        reply = _dispatch(handlers, line)
        stdout.write(json.dumps(reply, separators=(",", ":")) + "\n")
        stdout.flush()
        if reply.get("bye"):
            return


def _dispatch(handlers: dict[str, Handler], line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"ok": False, "error": "bad_request", "message": f"not JSON: {exc}"}
    if not isinstance(request, dict):
        return {"ok": False, "error": "bad_request", "message": "a request is a JSON object"}
    op = request.get("op")
    handler = handlers.get(str(op))
    if handler is None:
        return {"ok": False, "error": "unsupported", "message": f"no operation {op!r}"}
    try:
        return {"ok": True, **handler(request)}
    except RequestError as exc:
        return {"ok": False, "error": exc.error, "message": str(exc)}
    except KeyError as exc:
        return {"ok": False, "error": "bad_request", "message": f"missing field {exc}"}
    except (TypeError, ValueError) as exc:
        return {"ok": False, "error": "bad_request", "message": str(exc)}
