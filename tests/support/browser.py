"""A Flask app on a real HTTP server, and headless Chromium reading a page's DOM once its
scripts have run (``apt-get install chromium``; scripts/test installs it)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask
import pytest
from werkzeug.serving import make_server

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="needs chromium (apt-get install chromium)")


@contextmanager
def serving(app: flask.Flask) -> Iterator[str]:
    """``app`` on a real HTTP server: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def browse(url: str, profile: Path) -> str:
    """The DOM of ``url`` once its scripts have run, in headless Chromium."""
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout
