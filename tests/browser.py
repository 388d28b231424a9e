"""Pages as a person sees them: headless Chromium (Debian's `chromium`) renders a page, dumps its DOM or takes
a screenshot. Used by the report's browser test and by scripts/feedback_example.py."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

# Flags for a closed network and a root user: no sandbox of Chromium's own, nothing fetched in the background.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; skips the test (with the reason) where it is missing, fails instead under
    UNET_REQUIRE_CHROMIUM=1, which .ci/run sets."""
    found = chromium()
    if not found:
        message = "headless Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("UNET_REQUIRE_CHROMIUM") == "1":
            pytest.fail(message + " (UNET_REQUIRE_CHROMIUM=1)")
        pytest.skip(message)
    return found


def _run(page: pathlib.Path, *options: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="unet-chromium-") as profile:
        command = [chromium() or "chromium", *FLAGS, f"--user-data-dir={profile}", *options,
                   pathlib.Path(page).resolve().as_uri()]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def rendered_text(page: pathlib.Path) -> str:
    """The DOM of `page` after Chromium rendered it."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: pathlib.Path, png: pathlib.Path, width: int = 1100, height: int = 1400) -> pathlib.Path:
    """A PNG of the top of `page` as a window of `width` x `height` pixels shows it."""
    _run(page, f"--screenshot={pathlib.Path(png).resolve()}", f"--window-size={width},{height}")
    return pathlib.Path(png)
