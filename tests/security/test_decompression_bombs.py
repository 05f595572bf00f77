"""Decompression bombs uploaded by a widget visitor to a real daphne process.

Each bomb is a small file that claims or inflates to gigabytes. The server must answer a clear 4xx
(`too_large`, or the code of the refusal that stops it first), never a 500, and its resident memory
must not grow by 64 MB or more: the peak (VmHWM, reset through /proc/<pid>/clear_refs before each
upload) is compared with the resident size just before.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from django.db import connection
from PIL import Image

from tests.factories import InboxFactory, bombs
from tests.faults.support import ROOT, free_port, wait_port

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"
BUDGET = 64 * 1024 * 1024


@dataclass
class Daphne:
    url: str
    pid: int

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} for {self.pid}")

    def resident(self) -> int:
        return self._status("VmRSS")

    def peak(self) -> int:
        return self._status("VmHWM")

    def reset_peak(self) -> int:
        """Start a new peak from the resident size now; returns that size."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self.resident()


@pytest.fixture(scope="module")
def daphne(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Daphne]:
    """One daphne process on the test database, as tests/browser/conftest.py starts it."""
    with django_db_blocker.unblock():
        test_database = connection.settings_dict["NAME"]
    url = urlsplit(os.environ["DATABASE_URL"])
    workdir = tmp_path_factory.mktemp("daphne-bombs")
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit((url.scheme, url.netloc, "/" + test_database, url.query, "")),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MEDIA_ROOT": str(workdir / "media"),
        "IM_WIDGET_SESSIONS_PER_MINUTE": "100000",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    log_path = workdir / "daphne.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port)
        yield Daphne(f"http://127.0.0.1:{port}", process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        print(log_path.read_text(errors="replace")[-3000:])


@pytest.fixture
def visitor(daphne) -> Iterator[Callable[[str, bytes], httpx.Response]]:
    """upload(name, data) as a widget visitor: a session opened over HTTP, then the multipart upload.
    A small photo and a small document go first, so the baseline includes every decoder loaded."""
    InboxFactory(key="shop", kind="web", config={"allowed_origins": [ORIGIN]})
    with httpx.Client(base_url=daphne.url, timeout=120) as http:
        opened = http.post("/api/v1/widget/shop/sessions", json={"name": "Visitor"}, headers={"Origin": ORIGIN})
        assert opened.status_code == 201, opened.text
        headers = {"Authorization": f"Bearer {opened.json()['session_token']}", "Origin": ORIGIN}

        def upload(name: str, data: bytes) -> httpx.Response:
            return http.post("/api/v1/widget/uploads", files={"file": (name, data)}, headers=headers)

        frames = [Image.new("RGB", (200, 200), color) for color in ("red", "blue")]
        animation = io.BytesIO()
        frames[0].save(animation, "GIF", save_all=True, append_images=frames[1:], duration=100)
        for name, data in (("warm.gif", animation.getvalue()), ("warm.odt", bombs.odt_bytes())):
            assert upload(name, data).status_code == 201
        assert upload("warm.docx", bombs.docx_bytes()).status_code == 201
        yield upload


BOMBS = [
    ("odt-deflate-1GB", "letter.odt", lambda: bombs.odt_bomb(bombs.GB), "too_large"),
    ("odt-bzip2-1GB", "letter.odt", lambda: bombs.odt_bomb(bombs.GB, kind="bzip2"), "too_large"),
    ("odt-bzip2-lying", "letter.odt", lambda: bombs.odt_lying_bomb(256 * 1024 * 1024), "unknown_type"),
    ("docx-content-types-1GB", "letter.docx", lambda: bombs.docx_bomb(bombs.GB), "too_large"),
    ("docx-body-1GB", "letter.docx", lambda: bombs.docx_body_bomb(bombs.GB), "too_large"),
    # Past the 20,000-entry cap in a 2 MB body: what is measured is the zip's directory, not the cost of
    # receiving a large upload (tests/media/test_bombs.py has the 60,000-entry, 3 MB directory in process).
    ("docx-21k-entries", "letter.docx", lambda: bombs.zip_many_entries(21_000), "too_large"),
    ("gif-150-frames-2000x2000", "fun.gif", lambda: bombs.gif_bomb(150, (2000, 2000)), "too_large"),
    ("gif-frame-outside-canvas", "fun.gif", lambda: bombs.gif_frame_outside_canvas((60000, 60000)), "too_large"),
    ("png-100000x100000", "photo.png", lambda: bombs.png_header_bomb(100_000, 100_000), "too_large"),
    ("png-80MB-of-text", "photo.png", lambda: bombs.png_text_bomb(80), "too_large"),
    ("apng-400-frames", "fun.png", lambda: bombs.apng_bomb(400, (1000, 1000)), "too_large"),
    ("jpeg-65000x65000", "photo.jpg", lambda: bombs.jpeg_header_bomb(65000, 65000), "too_large"),
    ("webp-150-frames-4000x4000", "fun.webp", lambda: bombs.webp_bomb(150, (4000, 4000)), "too_large"),
]


@pytest.mark.parametrize(("name", "build", "code"), [b[1:] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_a_bomb_is_refused_clearly_and_daphne_stays_small(daphne, visitor, name, build, code):
    data = build()
    before = daphne.reset_peak()

    response = visitor(name, data)

    grown = daphne.peak() - before
    assert response.status_code in (400, 413), response.text
    assert response.json()["error"]["code"] == code, response.text
    assert grown < BUDGET, f"daphne grew by {grown // 1024 // 1024} MB for a {len(data)}-byte {name}"


def test_three_bombs_at_once(daphne, visitor):
    data = bombs.odt_bomb(bombs.GB)
    before = daphne.reset_peak()
    responses: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: responses.append(visitor("letter.odt", data))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    grown = daphne.peak() - before
    assert [r.status_code for r in responses] == [413, 413, 413]
    assert grown < BUDGET, f"daphne grew by {grown // 1024 // 1024} MB"
