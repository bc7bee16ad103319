"""Headless Chromium (Debian's package) on the generated pages: what a person would see."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.core.errors import SetupError

# Without the background-networking flags Chromium tries to reach Google's hosts at every
# start; this machine has no such network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _chromium(args: list[str], timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        raise SetupError("chromium is not installed; run `netconform doctor --install`")
    with tempfile.TemporaryDirectory(prefix=f"netconform-{os.getpid()}-chromium-") as profile:
        return subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def dom(page: Path, settle_ms: int = 10_000, size: str = "1400,1000") -> str:
    """The page's DOM after its scripts ran, laid out in a window of ``size`` pixels."""
    result = _chromium(
        [
            f"--virtual-time-budget={settle_ms}",
            f"--window-size={size}",
            "--dump-dom",
            page.resolve().as_uri(),
        ]
    )
    return result.stdout


def visible_text(page: Path, settle_ms: int = 10_000) -> list[str]:
    """The page's text after its scripts ran, one entry per text node."""
    html = dom(page, settle_ms)
    body = html[html.find("<body") :]
    body = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    return [line.strip() for line in re.sub(r"<[^>]+>", "\n", body).splitlines() if line.strip()]


def screenshot(page: Path, png: Path, size: str = "1400,900", settle_ms: int = 10_000) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    _chromium(
        [
            f"--virtual-time-budget={settle_ms}",
            f"--window-size={size}",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ]
    )
    if not png.exists() or png.stat().st_size == 0:
        raise SetupError(f"chromium made no screenshot of {page}")
    return png
