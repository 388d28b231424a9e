"""Local copies of the ISBI 2012 mirrors for the download tests: the files laid out as the real mirrors lay them
out (data.isbi2012.MIRRORS: the ImageJ zip, the two GitHub trees of raw TIFFs), served over HTTP on 127.0.0.1.

The notebook's loader (data/isbi2012.py) is pointed at them with UNET_DATA_MIRRORS, as a user would point it at
other mirrors, without editing its code.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import urllib.parse
import zipfile
from pathlib import Path

from data.isbi2012 import MIRRORS, MIRRORS_ENV, VOLUMES


def mirror_path(url: str, name: str | None = None) -> str:
    """The path part of a mirror's URL (or of one volume's URL on it), e.g. "/ISBI-2012-challenge.zip"."""
    return urllib.parse.urlsplit(url.format(name=name) if name else url).path


def build_mirrors(data_dir: Path, root: Path) -> Path:
    """Write, under `root`, every mirror of MIRRORS with the three volumes of `data_dir`: the zip as ImageJ's
    (the TIFFs in a folder, with macOS's resource forks beside them), the others as one TIFF per volume."""
    for url in MIRRORS:
        if url.endswith(".zip"):
            target = root / mirror_path(url).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                for name in VOLUMES:
                    archive.write(Path(data_dir) / f"{name}.tif", f"ISBI-2012-challenge/{name}.tif")
                    archive.writestr(f"__MACOSX/ISBI-2012-challenge/._{name}.tif", b"resource fork")
            continue
        for name in VOLUMES:
            target = root / mirror_path(url, name).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(data_dir) / f"{name}.tif", target)
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


class MirrorServer:
    """An HTTP server on 127.0.0.1 (a free port) serving the files under `root`; `requests` lists every path
    asked for, in order. Use as a context manager; `url` is its base URL."""

    def __init__(self, root: Path):
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_Handler, directory=str(root))
        )
        self.server.requests = self.requests = []
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> MirrorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def mirrors(self) -> list[str]:
        """MIRRORS, moved onto this server (same paths, same order)."""
        return [self.url + mirror_path(url) for url in MIRRORS]

    def environment(self) -> dict[str, str]:
        """UNET_DATA_MIRRORS naming this server's mirrors, and loopback kept off any proxy."""
        return {MIRRORS_ENV: " ".join(self.mirrors()), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
