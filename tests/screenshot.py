"""Screenshots of rendered e-mail for the documentation, with Debian's Chromium (headless).

Used by the tests that write ``docs/*.png`` when asked to (``KAMERMONITOR_SCREENSHOT=...``);
they skip without a browser.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def screenshot(page: Path, png: Path, scratch: Path, *, width: int = 900, height: int = 1400) -> None:
    """Render ``page`` (a local HTML file) into ``png``; nothing is loaded from the network."""
    chromium = browser()
    assert chromium is not None
    png.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={scratch / 'chromium'}", f"--screenshot={png}",
             f"--window-size={width},{height}"]  # fmt: skip
    subprocess.run([chromium, *flags, page.as_uri()], check=True, capture_output=True, timeout=120)
