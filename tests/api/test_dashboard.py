"""The course analytics page: served with a strict policy, and working in a real browser.

The browser test runs headless Chromium (``apt-get install chromium``; scripts/test
installs it) against the app on a real HTTP server, and reads the DOM after the
page's script has asked the API with the token given in the URL fragment.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.api.conftest import SECURED, MakeApp, Token
from tests.tracker.edx.logs_gen import COURSE


def test_the_page_and_its_files(secured: FlaskClient) -> None:
    page = secured.get("/dashboard/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert b'src="static/dashboard.js"' in page.data and b"<script>" not in page.data
    script = secured.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and b"/analytics" in script.data
    assert secured.get("/dashboard/static/../dashboard.py").status_code == 404


@pytest.fixture
def served(make_app: MakeApp, imported: None) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, make_app(SECURED), threaded=True)
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


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="needs chromium (apt-get install chromium)")
def test_staff_see_their_course_in_a_browser(served: str, token: Token,
                                            tmp_path: Path) -> None:
    course = quote(COURSE, safe="")
    dom = browse(f"{served}/dashboard/#course={course}&token={token(sub='prof')}",
                 tmp_path / "staff")
    assert "Ann Lee" in dom and "bob@example.org" in dom  # the learners, with contacts
    assert "0 h 02 min" in dom  # ann's 50 s + bob's 100 s + dee's 4 s
    assert "75 %" in dom  # the video's mean coverage
    assert "2025-11-29" in dom  # the per-day table
    assert "type@vertical+block@u1" in dom  # the per-unit table
    dom = browse(f"{served}/dashboard/#course={course}&token={token(sub='ann')}",
                 tmp_path / "student")
    assert "for that course's staff" in dom  # the API's refusal, shown as it said it
    assert "bob@example.org" not in dom
    # without a course: the only course the token's staff role covers is chosen
    dom = browse(f"{served}/dashboard/#token={token(sub='prof')}", tmp_path / "no-course")
    assert "Ann Lee" in dom and f'value="{COURSE}"' in dom
