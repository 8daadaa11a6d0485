"""Where tracking logs come from: local files, or objects in S3 (EOL's ``downloadlogs``).

A location is a file path or ``s3://bucket/prefix``: every object under the prefix,
in key order (rotated logs sort by date). S3 is reached with boto3's own settings:
credentials and region from the environment or the profile, and another endpoint
(MinIO, Ceph, a test server) from ``AWS_ENDPOINT_URL``. Files and objects are read
as streams, never downloaded whole; gzip is told by the first bytes, not the name.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

S3_SCHEME = "s3://"


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class LogSource:
    """One log file or object: its name (for progress and errors), size and a way to
    open it as a binary stream."""

    name: str
    size: int
    open: Callable[[], Readable]


def file_source(path: Path) -> LogSource:
    return LogSource(str(path), path.stat().st_size, lambda: open(path, "rb", buffering=0))


def s3_sources(url: str, client: Any = None) -> list[LogSource]:
    """Every object under ``s3://bucket/prefix``, in key order."""
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    if not bucket:
        raise ValueError(f"not an S3 location (s3://bucket/prefix): {url!r}")
    if client is None:
        import boto3  # only when S3 is asked for

        client = boto3.client("s3")
    found: list[LogSource] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):  # a "folder" placeholder
                continue

            def opener(key: str = key) -> Readable:
                body: Readable = client.get_object(Bucket=bucket, Key=key)["Body"]
                return body
            found.append(LogSource(f"s3://{bucket}/{key}", int(obj["Size"]), opener))
    return sorted(found, key=lambda s: s.name)


def sources(locations: Sequence[str]) -> list[LogSource]:
    """The sources of ``locations`` (paths and S3 prefixes), in the order given; a path
    that is no file raises FileNotFoundError, an S3 prefix with no object ValueError."""
    out: list[LogSource] = []
    for location in locations:
        if location.startswith(S3_SCHEME):
            found = s3_sources(location)
            if not found:
                raise ValueError(f"no object under {location}")
            out += found
        else:
            path = Path(location)
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {location}")
            out.append(file_source(path))
    return out


class _Counted(io.RawIOBase):
    """A readable stream that tells ``advance`` how many bytes each read took."""

    def __init__(self, raw: Readable, advance: Callable[[int], object] | None) -> None:
        self.raw, self.advance = raw, advance

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        buffer[:len(data)] = data
        if self.advance is not None and data:
            self.advance(len(data))
        return len(data)


def read_lines(source: LogSource | Path,
               advance: Callable[[int], object] | None = None) -> Iterator[str]:
    """The lines of a log, gzip-compressed or not (told by its first bytes).
    ``advance(n)`` is told of every ``n`` bytes read from the source (a progress bar)."""
    if isinstance(source, Path):
        source = file_source(source)
    raw = source.open()
    try:
        buffered = io.BufferedReader(_Counted(raw, advance))
        gzipped = buffered.peek(2)[:2] == b"\x1f\x8b"
        binary: IO[bytes] = gzip.GzipFile(fileobj=buffered) if gzipped else buffered  # type: ignore[assignment]
        yield from io.TextIOWrapper(binary, encoding="utf-8", errors="replace")
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()
