"""Pages as a person sees them: headless Chromium (Debian's `chromium`) renders a page, dumps its DOM or takes
a screenshot. Used by the report's browser test and by scripts/feedback_example.py."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

# Flags for a closed network and a root user: no sandbox of Chromium's own, nothing fetched in the background.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
]


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
        command = [
            chromium() or "chromium",
            *FLAGS,
            f"--user-data-dir={profile}",
            *options,
            pathlib.Path(page).resolve().as_uri(),
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def rendered_text(page: pathlib.Path) -> str:
    """The DOM of `page` after Chromium rendered it."""
    return _run(page, "--dump-dom").stdout


def screenshot(page: pathlib.Path, png: pathlib.Path, width: int = 1100, height: int = 1400) -> pathlib.Path:
    """A PNG of the top of `page` as a window of `width` x `height` pixels shows it."""
    _run(page, f"--screenshot={pathlib.Path(png).resolve()}", f"--window-size={width},{height}")
    return pathlib.Path(png)


def measured(page: pathlib.Path, script: str, width: int = 1300, height: int = 900) -> dict:
    """What the JavaScript function body `script` returns (as JSON) on `page` laid out by Chromium in a window of
    `width` x `height` pixels: a copy of the page runs it at the end of its body and keeps the answer in the DOM."""
    import html
    import json
    import re

    text = pathlib.Path(page).read_text(encoding="utf-8")
    probe = (
        "<script>document.documentElement.setAttribute('data-measured', JSON.stringify((function () {"
        + script
        + "})()));</script>"
    )
    at = text.rfind("</body>")
    with tempfile.TemporaryDirectory(prefix="unet-measured-") as folder:
        copy = pathlib.Path(folder) / pathlib.Path(page).name
        copy.write_text(text[:at] + probe + text[at:] if at >= 0 else text + probe, encoding="utf-8")
        dom = _run(copy, f"--window-size={width},{height}", "--dump-dom").stdout
    found = re.search(r'data-measured="([^"]*)"', dom)
    assert found, f"the probe did not run on {page}"
    return json.loads(html.unescape(found.group(1)))
