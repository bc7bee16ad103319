"""Wireshark's decode of each test's capture, made in the background.

tshark takes about a third of a second to start, which a test would otherwise spend waiting
at its end (a matrix of 300 stacks: hours). So the test attaches a placeholder and goes on;
tshark runs beside the next tests (which mostly wait on the network) and its decode replaces
the placeholder's file in the Allure results; the end of the session waits for the last ones.
The placeholder is found by its text when Allure writes it (allure_commons' hook), which
gives the attachment's file name.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import allure_commons

MARK, AFTER = "(the tshark decode of ", " was not written: the run ended before it)\n"
PLACEHOLDER = MARK + "{pcap}" + AFTER
MAX_RUNNING = 2  # tshark processes at once per worker


def readable(text: str, frames: int, chars: int) -> str:
    """tshark's decode as attached: at most ``chars`` characters, and what it leaves out."""
    if len(text) > chars:
        text = text[:chars] + f"\n... cut at {chars} characters"
    return text + f"\n(the first {frames} frames at most; capture.pcap has them all)\n"


@dataclass
class Decode:
    process: subprocess.Popen[bytes]
    output: IO[bytes]
    attachment: Path
    started: float


class DecodePool:
    """tshark processes writing decodes into Allure attachments, at most MAX_RUNNING at a
    time; ``finish`` waits for them all."""

    def __init__(self, results_dir: Path, frames: int, chars: int, timeout: float) -> None:
        self.results_dir, self.frames, self.chars, self.timeout = (
            results_dir,
            frames,
            chars,
            timeout,
        )
        self.running: list[Decode] = []

    # allure_commons calls this for every attachment it writes.
    @allure_commons.hookimpl
    def report_attached_data(self, body: Any, file_name: str) -> None:
        if isinstance(body, str) and body.startswith(MARK):
            pcap = body.removeprefix(MARK).removesuffix(AFTER)
            self.submit(Path(pcap), self.results_dir / file_name)

    def submit(self, pcap: Path, attachment: Path) -> None:
        self._reap(keep=MAX_RUNNING - 1)
        output = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the decode is written)
        process = subprocess.Popen(
            ["tshark", "-n", "-r", str(pcap), "-V", "-c", str(self.frames)],
            stdout=output,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(Decode(process, output, attachment, time.monotonic()))

    def _reap(self, keep: int) -> None:
        """Write the decodes that are done; then wait for the oldest until at most ``keep``
        are running."""
        running = []
        for decode in self.running:
            if decode.process.poll() is None:
                running.append(decode)
            else:
                self._complete(decode)
        self.running = running
        while len(self.running) > keep:
            self._complete(self.running.pop(0))

    def _complete(self, decode: Decode) -> None:
        """Wait for one decode and write it over its placeholder."""
        left = max(0.0, decode.started + self.timeout - time.monotonic())
        try:
            code = decode.process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            decode.process.kill()
            decode.process.wait()
            decode.output.close()
            self._write(decode.attachment, f"(tshark did not finish within {self.timeout:g} s)\n")
            return
        decode.output.seek(0)
        text = decode.output.read(self.chars + 1).decode(errors="replace")
        decode.output.close()
        if code != 0:
            self._write(decode.attachment, f"(tshark could not decode the capture: exit {code})\n")
            return
        self._write(decode.attachment, readable(text, self.frames, self.chars))

    @staticmethod
    def _write(path: Path, text: str) -> None:
        with contextlib.suppress(OSError):  # a results folder removed under the run
            temporary = path.with_suffix(".tmp")
            temporary.write_text(text)
            os.replace(temporary, path)

    def finish(self) -> None:
        self._reap(keep=0)


ACTIVE: DecodePool | None = None


def start(results_dir: Path, frames: int, chars: int, timeout: float) -> DecodePool:
    global ACTIVE
    ACTIVE = DecodePool(results_dir, frames, chars, timeout)
    allure_commons.plugin_manager.register(ACTIVE)
    return ACTIVE


def stop() -> None:
    global ACTIVE
    if ACTIVE is not None:
        ACTIVE.finish()
        allure_commons.plugin_manager.unregister(ACTIVE)
        ACTIVE = None
