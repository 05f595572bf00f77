"""Decompression bombs through the media gate: every decoder is bounded before it decodes.

Archives: only the central directory and two small members are read, each bounded by its declared size,
its compression method and the bytes read. Images: width x height x frames, read from the headers,
against MEDIA_MAX_IMAGE_PIXELS before Pillow sees the file; whatever a decoder raises is a refusal.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import struct
import tracemalloc

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageFile

from media import images as media_images
from media.image_headers import MAX_FRAMES, image_geometry
from media.models import Attachment, AttachmentStatus
from media.services import attachment_create_pending, attachment_upload
from media.sniff import GIF, JPEG, PNG, WEBP
from media.tasks import fetch_remote_media
from tests.factories import bombs
from tests.factories.media import MediaPolicyFactory, image_bytes, upload
from tests.media.conftest import Reply

pytestmark = pytest.mark.django_db
_MB = 1024 * 1024


def _refusal(name: str, data: bytes, content_type: str = "application/octet-stream") -> ValidationError:
    existing = Attachment.objects.count()
    with pytest.raises(ValidationError) as caught:
        attachment_upload(
            file=upload(name, data, content_type), channel_kind="web", uploader_kind="customer", uploader_id="c1"
        )
    assert Attachment.objects.count() == existing
    return caught.value


@pytest.fixture
def python_peak():
    """The peak of Python allocations (inflated bytes are Python objects) while the test body runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = {}
    yield result
    result["peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()


@pytest.fixture
def no_decoding(monkeypatch):
    """Fails the test if Pillow is asked to open the file at all."""
    opened = []
    real_open = Image.open

    def spy(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(media_images.Image, "open", spy)
    yield opened
    assert opened == [], "the image reached the decoder"


# --- archives ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "build", "code"),
    [
        ("letter.odt", lambda: bombs.odt_bomb(bombs.GB), "too_large"),  # mimetype declares 1 GB
        ("letter.odt", lambda: bombs.odt_bomb(64 * _MB, kind="bzip2"), "unknown_type"),  # whole-block method
        ("letter.odt", lambda: bombs.odt_bomb(bombs.GB, kind="bzip2"), "too_large"),  # the 919-byte one
        ("letter.odt", lambda: bombs.odt_lying_bomb(64 * _MB), "unknown_type"),  # says 46 bytes, holds 64 MB
        ("letter.odt", lambda: bombs.odt_lying_bomb(bombs.GB, kind="deflate"), "unknown_type"),  # read stops
        ("letter.docx", lambda: bombs.docx_bomb(bombs.GB), "too_large"),  # [Content_Types].xml
        ("letter.docx", lambda: bombs.docx_body_bomb(bombs.GB), "too_large"),  # the body, never read
        ("letter.docx", lambda: bombs.zip_many_entries(60_000), "too_large"),  # a 3 MB directory
    ],
)
def test_archive_bombs_are_refused_without_inflating_them(python_peak, name, build, code):
    data = build()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    error = _refusal(name, data)
    assert error.code == code, error.messages
    assert tracemalloc.get_traced_memory()[1] - before < 8 * _MB


def test_real_documents_still_pass_and_macro_content_types_do_not():
    attachment = attachment_upload(
        file=upload("notes.odt", bombs.odt_bytes()), channel_kind="web", uploader_kind="customer", uploader_id="c1"
    )
    assert attachment.content_type == "application/vnd.oasis.opendocument.text"
    attachment = attachment_upload(
        file=upload("notes.docx", bombs.docx_bytes()), channel_kind="web", uploader_kind="customer", uploader_id="c1"
    )
    assert attachment.content_type.endswith("wordprocessingml.document")
    macro = bombs.docx_bytes(content_types=b"<Types>application/vnd.ms-word.document.macroEnabled.main+xml</Types>")
    assert _refusal("notes.docx", macro).code == "executable"


@pytest.mark.parametrize("name", ["a.odt", "a.docx"])
def test_damaged_documents_are_refusals_whatever_the_damage(name):
    import random

    data = bombs.odt_bytes() if name.endswith("odt") else bombs.docx_bytes()
    chaos = random.Random(name)
    variants = [data[:cut] for cut in range(4, len(data))]
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(chaos.randint(1, 3)):
            damaged[chaos.randrange(4, len(damaged))] = chaos.randrange(256)
        variants.append(bytes(damaged))
    for variant in variants:
        with contextlib.suppress(ValidationError):
            attachment_upload(file=upload(name, variant), channel_kind="web", uploader_kind="customer", uploader_id="c")


# --- images ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("animation.gif", lambda: bombs.gif_bomb(150, (2000, 2000))),
        ("animation.gif", lambda: bombs.gif_frame_outside_canvas((60000, 60000))),
        ("photo.png", lambda: bombs.png_header_bomb(100_000, 100_000)),
        ("animation.png", lambda: bombs.apng_bomb(400, (1000, 1000))),
        ("photo.jpg", lambda: bombs.jpeg_header_bomb(65000, 65000)),
        ("animation.webp", lambda: bombs.webp_bomb(150, (4000, 4000))),
    ],
)
def test_image_bombs_are_refused_from_their_headers_before_any_decoder(no_decoding, name, build):
    error = _refusal(name, build())
    assert error.code == "too_large", error.messages
    assert "pixels" in error.messages[0]


def test_png_text_chunks_are_inflated_only_up_to_a_few_megabytes(python_peak):
    data = bombs.png_text_bomb(80)  # 80 KB of zTXt chunks that inflate to 80 MB
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    assert _refusal("photo.png", data).code == "too_large"
    assert tracemalloc.get_traced_memory()[1] - before < 8 * _MB


def test_the_budget_counts_frames(settings):
    settings.MEDIA_MAX_IMAGE_PIXELS = 2000 * 2000 * 10
    assert _refusal("a.gif", bombs.gif_bomb(11, (2000, 2000))).code == "too_large"
    attachment = attachment_upload(
        file=upload("a.gif", bombs.gif_bomb(10, (2000, 2000))),
        channel_kind="web",
        uploader_kind="customer",
        uploader_id="c",
    )
    assert Image.open(attachment.file).n_frames == 10


def test_a_frame_count_over_the_cap_is_refused_however_small_the_frames(no_decoding):
    assert _refusal("a.gif", bombs.gif_bomb(MAX_FRAMES + 1, (1, 1))).code == "too_large"


def test_pillow_bomb_errors_are_refusals_not_server_errors(settings):
    """With the budget set above Pillow's own limit, Pillow's DecompressionBombError is what stops the
    image; it is a too_large refusal, never an exception out of the gate."""
    settings.MEDIA_MAX_IMAGE_PIXELS = 10**12
    assert _refusal("photo.png", bombs.png_header_bomb(100_000, 100_000)).code == "too_large"


def test_whatever_a_decoder_raises_is_bad_image(monkeypatch):
    def broken(self, *args, **kwargs):
        raise struct.error("unpack requires a buffer of 4 bytes")

    data = image_bytes("PNG")
    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    assert _refusal("photo.png", data).code == "bad_image"


def test_types_we_do_not_accept_never_reach_a_decoder(no_decoding):
    assert _refusal("scan.tiff", bombs.tiff_pages(20, (500, 500))).code == "unknown_type"


@pytest.mark.parametrize(
    ("fmt", "mime", "options"),
    [
        ("PNG", PNG.mime, {}),
        ("JPEG", JPEG.mime, {"progressive": True}),
        ("WEBP", WEBP.mime, {"lossless": True}),
        ("WEBP", WEBP.mime, {"quality": 50}),
    ],
)
def test_header_geometry_agrees_with_pillow_for_still_images(fmt, mime, options):
    buffer = io.BytesIO()
    Image.new("RGB", (123, 45), "red").save(buffer, fmt, **options)
    geometry = image_geometry(file=buffer, mime=mime)
    assert (geometry.width, geometry.height, geometry.frames) == (123, 45, 1)


def _animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (60, 40), color) for color in ("red", "green", "blue")]
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"
    metadata = {"comment": b"SpyCam Inc"} if fmt == "GIF" else {"exif": exif, "xmp": b"<x:SpyCam Inc/>"}
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0, **metadata)
    assert b"SpyCam" in buffer.getvalue()
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "kind"), [("GIF", GIF), ("WEBP", WEBP)])
def test_animations_keep_frames_and_durations_when_reencoded_one_frame_at_a_time(fmt, kind):
    data = _animation(fmt)
    geometry = image_geometry(file=io.BytesIO(data), mime=kind.mime)
    assert (geometry.width, geometry.height, geometry.frames) == (60, 40, 3)
    assert geometry.durations == [100, 200, 300]

    attachment = attachment_upload(
        file=upload(f"a.{fmt.lower()}", data), channel_kind="web", uploader_kind="customer", uploader_id="c"
    )
    with attachment.file.open("rb") as raw:
        content = raw.read()
    assert b"SpyCam" not in content
    stored = Image.open(io.BytesIO(content))
    assert stored.n_frames == 3 and (attachment.width, attachment.height) == (60, 40)
    durations = []
    for index in range(3):
        stored.seek(index)
        stored.load()
        durations.append(stored.info["duration"])
    assert durations == [100, 200, 300]
    assert attachment.thumbnail


# --- platform media ----------------------------------------------------------------------------------
def _fetched(platform, body: bytes, name: str, headers: dict | None = None) -> Attachment:
    url = platform.reply(f"/media/{name}", Reply(200, body, headers or {}))
    attachment = attachment_create_pending(channel_kind="telegram", conversation_id=3, uploader_id="inbox-1", name=name)
    fetch_remote_media.delay(attachment.pk, url, {})
    attachment.refresh_from_db()
    return attachment


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("animation.gif", lambda: bombs.gif_bomb(150, (2000, 2000))),
        ("photo.png", lambda: bombs.png_header_bomb(100_000, 100_000)),
        ("letter.odt", lambda: bombs.odt_bomb(bombs.GB)),
        ("letter.docx", lambda: bombs.docx_bomb(bombs.GB)),
    ],
)
def test_platform_media_goes_through_the_same_bounds(platform, no_decoding, name, build):
    attachment = _fetched(platform, build(), name)
    assert attachment.status == AttachmentStatus.FAILED
    assert "too large" in attachment.error or "unpacks to" in attachment.error, attachment.error
    assert not attachment.file


def test_platform_media_over_pillows_own_limit_fails_instead_of_crashing_the_task(platform, settings):
    settings.MEDIA_MAX_IMAGE_PIXELS = 10**12
    attachment = _fetched(platform, bombs.png_header_bomb(100_000, 100_000), "photo.png")
    assert attachment.status == AttachmentStatus.FAILED and "too large" in attachment.error


def test_a_gzip_encoded_download_is_inflated_only_up_to_the_limit(platform, python_peak):
    MediaPolicyFactory(channel_kind="telegram", max_size=1 * _MB)
    body = gzip.compress(bytes(128 * _MB), compresslevel=9)  # about 128 KB on the wire
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    attachment = _fetched(platform, body, "notes.txt", {"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    assert tracemalloc.get_traced_memory()[1] - before < 8 * _MB
    assert attachment.status == AttachmentStatus.FAILED and "too large" in attachment.error


def test_a_gzip_encoded_download_within_the_limit_is_stored_inflated(platform):
    text = b"hello from the platform\n" * 100
    attachment = _fetched(platform, gzip.compress(text), "notes.txt", {"Content-Encoding": "gzip"})
    assert attachment.status == AttachmentStatus.READY, attachment.error
    with attachment.file.open("rb") as stored:
        assert stored.read() == text
    assert platform.request_headers[-1]["Accept-Encoding"] == "identity"


def _samples() -> list[tuple[str, bytes]]:
    frames = [Image.new("RGB", (40, 30), color) for color in ("red", "green")]
    samples = [
        ("a.png", image_bytes("PNG", (40, 30), mode="RGBA")),
        ("a.jpg", image_bytes("JPEG", (40, 30), exif_gps=True)),
        ("a.webp", image_bytes("WEBP", (40, 30))),
    ]
    for fmt in ("GIF", "WEBP", "PNG"):
        buffer = io.BytesIO()
        frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100)
        samples.append((f"b.{fmt.lower()}", buffer.getvalue()))
    return samples


@pytest.mark.parametrize(("name", "data"), _samples(), ids=lambda value: value if isinstance(value, str) else "")
def test_damaged_images_are_refusals_whatever_the_damage(name, data):
    """Truncated and bit-flipped copies of each kind of image: stored or refused, never another error."""
    import random

    chaos = random.Random(name)
    variants = [data[:cut] for cut in range(8, len(data), max(1, len(data) // 40))]
    for _ in range(120):
        damaged = bytearray(data)
        for _ in range(chaos.randint(1, 4)):
            damaged[chaos.randrange(8, len(damaged))] = chaos.randrange(256)
        variants.append(bytes(damaged))
    for variant in variants:
        with contextlib.suppress(ValidationError):
            attachment_upload(file=upload(name, variant), channel_kind="web", uploader_kind="customer", uploader_id="c")
