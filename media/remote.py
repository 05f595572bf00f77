"""Downloading a platform's media file through the outbound guard (core/outbound.py: public addresses
only unless allow-listed, checked on the address connected to and again on every redirect), capped in
size and time, with errors split into "try again later" and "this will never work" so the task knows
whether to retry."""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx
from django.conf import settings

from core.outbound import OutboundRefused, outbound_client

CHUNK_SIZE = 64 * 1024
MAX_REDIRECTS = 5
_RETRYABLE_STATUS = {408, 425, 429}


class RemoteFetchError(Exception):
    pass


class RemoteFetchRefused(RemoteFetchError):
    """Permanent: the same request will fail again (a 404, a file over the limit, a forbidden host)."""


class RemoteFetchTemporary(RemoteFetchError):
    """Worth retrying: a timeout, a refused connection, a 5xx or a 429."""


@dataclass
class Download:
    file: IO[bytes]
    name: str
    content_type: str
    size: int


def _name_from_url(url: httpx.URL) -> str:
    return unquote(urlsplit(str(url)).path.rsplit("/", 1)[-1])


def _decoded(raw: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """The body with its Content-Encoding undone, CHUNK_SIZE bytes of output at a time."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        yield from raw
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise RemoteFetchRefused(f"The file came {encoding}-encoded; only gzip and deflate are read.")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, whichever is there
    try:
        for chunk in raw:
            data = chunk
            while not inflater.eof:
                out = inflater.decompress(data, CHUNK_SIZE)
                data = inflater.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < CHUNK_SIZE:  # this input is used up and nothing is pending
                    break
    except zlib.error as exc:
        raise RemoteFetchRefused("The file's compressed body is damaged.") from exc


def remote_download(*, url: str, headers: dict[str, str] | None, max_size: int) -> Download:
    """The file at `url` in a temporary file (the caller closes it), never more than max_size bytes."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise RemoteFetchRefused("Only http and https URLs are fetched.")
    target = tempfile.TemporaryFile()  # noqa: SIM115 (returned to the caller, who closes it)
    try:
        with (
            outbound_client(
                timeout=settings.MEDIA_FETCH_TIMEOUT_S,
                max_bytes=max_size,
                deadline_s=settings.MEDIA_FETCH_DEADLINE_S,
                follow_redirects=True,
                max_redirects=MAX_REDIRECTS,
            ) as client,
            # Identity asked for, and the raw bytes read: httpx would inflate a gzip body a whole network
            # read at a time (64 KB can become 64 MB), so a compressed body is inflated here, bounded.
            client.stream("GET", url, headers={"Accept-Encoding": "identity", **(headers or {})}) as response,
        ):
            status = response.status_code
            if status >= 500 or status in _RETRYABLE_STATUS:
                raise RemoteFetchTemporary(f"The platform answered HTTP {status}.")
            if status >= 400:
                raise RemoteFetchRefused(f"The platform answered HTTP {status} {response.reason_phrase}.")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_size:
                raise RemoteFetchRefused(f"The file is too large ({declared} bytes; the limit is {max_size}).")
            received = 0
            for chunk in _decoded(response.iter_raw(CHUNK_SIZE), response.headers.get("content-encoding", "")):
                received += len(chunk)
                if received > max_size:
                    raise RemoteFetchRefused(f"The file is too large (over {max_size} bytes).")
                target.write(chunk)
            content_type = response.headers.get("content-type", "")
            name = _name_from_url(response.url)
    except OutboundRefused as exc:
        target.close()
        raise RemoteFetchRefused(str(exc)) from exc
    except httpx.TooManyRedirects as exc:
        target.close()
        raise RemoteFetchRefused("Too many redirects.") from exc
    except (httpx.TransportError, httpx.StreamError) as exc:
        target.close()
        raise RemoteFetchTemporary(f"Download failed: {exc.__class__.__name__}.") from exc
    except RemoteFetchError:
        target.close()
        raise
    target.seek(0)
    return Download(file=target, name=name, content_type=content_type, size=received)
