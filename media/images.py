"""Images are decoded and written again: the copy we keep has no EXIF, GPS, XMP or comments, and a file
that only pretends to be an image fails here. Each one also gets a small thumbnail."""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from media.sniff import GIF, JPEG, PNG, WEBP, FileType, refuse

THUMBNAIL_BOX = (320, 320)
_PILLOW_FORMAT = {PNG.mime: "PNG", JPEG.mime: "JPEG", GIF.mime: "GIF", WEBP.mime: "WEBP"}
# Only what drawing the picture needs survives the copy; everything else in `info` is metadata.
_KEPT_INFO = ("transparency", "duration", "loop", "background")


@dataclass
class CleanImage:
    content: BinaryIO
    width: int
    height: int
    thumbnail: io.BytesIO
    thumbnail_extension: str


def _without_metadata(image: Image.Image) -> Image.Image:
    image.info = {key: image.info[key] for key in _KEPT_INFO if key in image.info}
    return image


def _open(file: BinaryIO, expected: FileType) -> Image.Image:
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            if Image.MIME.get(image.format or "") != expected.mime:
                raise refuse("The image's contents do not match its type.", "type_mismatch")
            width, height = image.size
            if width * height > settings.MEDIA_MAX_IMAGE_PIXELS:
                raise refuse(f"The image is too large ({width} x {height} pixels).", "too_large")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
        raise refuse("The image is damaged and cannot be read.", "bad_image") from exc
    return image


def _reencode(image: Image.Image, expected: FileType) -> BinaryIO:
    fmt = _PILLOW_FORMAT[expected.mime]
    icc_profile = image.info.get("icc_profile")
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned to the caller)
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and fmt in ("GIF", "WEBP"):
        sequence = [_without_metadata(frame.copy()) for frame in ImageSequence.Iterator(image)]
        durations = [frame.info.get("duration", 100) for frame in sequence]
        first = sequence[0]
        first.save(
            out,
            fmt,
            save_all=True,
            append_images=sequence[1:],
            duration=durations,
            loop=image.info.get("loop", 0),
            **options,
        )
    else:
        if fmt == "JPEG":
            options.update(quality=90, optimize=True)
            if image.mode not in ("RGB", "L", "CMYK"):
                image = image.convert("RGB")
        elif fmt == "WEBP":
            options.update(quality=90)
        _without_metadata(image).save(out, fmt, **options)
    out.seek(0)
    return out


def _thumbnail(image: Image.Image) -> tuple[io.BytesIO, str]:
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    small = image.copy()
    small.thumbnail(THUMBNAIL_BOX)
    has_alpha = small.mode in ("RGBA", "LA") or (small.mode == "P" and "transparency" in small.info)
    buffer = io.BytesIO()
    if has_alpha:
        _without_metadata(small.convert("RGBA")).save(buffer, "PNG", optimize=True)
        extension = "png"
    else:
        _without_metadata(small.convert("RGB")).save(buffer, "JPEG", quality=80, optimize=True)
        extension = "jpg"
    buffer.seek(0)
    return buffer, extension


def image_clean(*, file: BinaryIO, found: FileType) -> CleanImage:
    """A metadata-free copy of the image, its upright size and a thumbnail; refuses unreadable images."""
    image = _open(file, found)
    if found.mime == JPEG.mime:
        # The orientation tag goes with the EXIF, so turn the pixels now or the photo ends up sideways.
        image = ImageOps.exif_transpose(image)
    content = _reencode(image, found)
    thumbnail, extension = _thumbnail(image)
    return CleanImage(content, image.width, image.height, thumbnail, extension)
