"""Storage for the media tests: a temporary MEDIA_ROOT for each test, and a real S3 protocol server
(moto) on a free local port for the S3 tests; plus a small HTTP server standing in for a platform."""

from __future__ import annotations

import socket
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

BUCKET = "sb-media-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def local_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": 300,
                "file_overwrite": False,
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict | None = None


class Platform:
    """Answers GET <path> with the replies queued for it, in order; the last one repeats."""

    def __init__(self) -> None:
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.hits: dict[str, int] = defaultdict(int)
        self.request_headers: list[dict] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                platform.hits[self.path] += 1
                platform.request_headers.append(dict(self.headers))
                queue = platform.replies.get(self.path)
                reply = (queue.popleft() if len(queue) > 1 else queue[0]) if queue else Reply(404, b"no such file")
                self.send_response(reply.status)
                headers = {"Content-Length": str(len(reply.body)), **(reply.headers or {})}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, path: str, *replies: Reply) -> str:
        self.replies[path].extend(replies)
        return self.base_url + path


@pytest.fixture
def platform(settings):
    stand_in = Platform()
    stand_in.thread.start()
    # The outbound guard refuses loopback in production: allow this stand-in's host and port only.
    settings.OUTBOUND_FETCH_ALLOW = [*settings.OUTBOUND_FETCH_ALLOW, stand_in.base_url.split("://", 1)[1]]
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()
