"""gunicorn's settings for the read API.

``gunicorn -c python:api.gunicorn_conf "api:create_app()"`` serves it.

gunicorn answers some bad requests itself, before the app sees them: a request line
longer than ``limit_request_line`` (a path with a 5,000-character player id: 414), too
many or too large headers (431), a malformed request line or header (400). Its page for
those is HTML. With these settings it is the API's JSON error instead, as for every other
answer: ``{"error": "uri_too_long", "message": "Request Line is too large (5049 > 4094)"}``.

gunicorn has no setting for its error page, so its writer is replaced here; the master
loads this module before it forks the workers, which inherit the replacement.

Each worker tells the master it is alive by touching a temporary file. In a container
``/tmp`` may be a disk-backed overlay whose writes can stall for seconds, long enough for
the master to kill healthy workers; ``/dev/shm`` is memory (gunicorn's own advice).
"""

from __future__ import annotations

import json
import os
import socket

from gunicorn import util

from api.errors import error_code


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """What ``gunicorn.util.write_error`` sends, as JSON (same signature, same framing)."""
    body = json.dumps({"error": error_code(reason), "message": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = write_json_error

if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
