"""Images are decoded and written again: the copy we keep has no EXIF, GPS, XMP or comments, and a file
that only pretends to be an image fails here. Each one also gets a small thumbnail."""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, PngImagePlugin

from media.image_headers import Geometry, image_geometry
from media.sniff import GIF, JPEG, PNG, WEBP, FileType, refuse

THUMBNAIL_BOX = (320, 320)
# PNG text chunks are metadata we drop, yet Pillow inflates them all (each up to MAX_TEXT_CHUNK, 1 MB)
# and keeps up to 64 MB of them; a few megabytes is more than any real picture carries.
PngImagePlugin.MAX_TEXT_MEMORY = 4 * 1024 * 1024
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


def _budget_check(width: int, height: int, frames: int) -> None:
    """One pixel budget for everything decoding an image may hold: width x height x frames."""
    budget = settings.MEDIA_MAX_IMAGE_PIXELS
    if width * height * max(frames, 1) > budget:
        described = f"{width} x {height} pixels" + (f" x {frames} frames" if frames > 1 else "")
        raise refuse(f"The image is too large ({described}; the limit is {budget} pixels).", "too_large")


def _open(file: BinaryIO, expected: FileType) -> Image.Image:
    file.seek(0)
    # Only the decoder of the sniffed type: Pillow would otherwise try every format it knows.
    image = Image.open(file, formats=[_PILLOW_FORMAT[expected.mime]])
    if Image.MIME.get(image.format or "") != expected.mime:
        raise refuse("The image's contents do not match its type.", "type_mismatch")
    # What Pillow read from the headers must fit too (n_frames walks a GIF's blocks without decoding).
    _budget_check(*image.size, getattr(image, "n_frames", 1))
    image.load()
    return image


def _reencode(image: Image.Image, expected: FileType, geometry: Geometry) -> BinaryIO:
    fmt = _PILLOW_FORMAT[expected.mime]
    icc_profile = image.info.get("icc_profile")
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned to the caller)
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and fmt in ("GIF", "WEBP"):
        # The writers read the frames from the decoder one at a time (seek, convert, encode); only
        # what they write (and the GIF writer's per-frame differences) accumulates.
        options["loop"] = image.info.get("loop", 0)
        if fmt == "GIF":
            options["comment"] = b""  # frame 0's comment would otherwise be copied over
        elif len(geometry.durations) == frames:
            options["duration"] = geometry.durations
        image.seek(0)
        image.save(out, fmt, save_all=True, **options)
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
    width, height = image.size
    scale = min(1.0, THUMBNAIL_BOX[0] / width, THUMBNAIL_BOX[1] / height)
    if scale < 1:
        # Straight from the decoded frame to the small one: no full-size copy on the way.
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    else:
        small = image.copy()
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
    """A metadata-free copy of the image, its upright size and a thumbnail; refuses unreadable images
    (code bad_image) and images over the pixel budget (too_large), the latter before decoding."""
    geometry = image_geometry(file=file, mime=found.mime)
    _budget_check(geometry.width, geometry.height, geometry.frames)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _open(file, found)
            if found.mime == JPEG.mime:
                # The orientation tag goes with the EXIF, so turn the pixels now or the photo ends up sideways.
                ImageOps.exif_transpose(image, in_place=True)
            content = _reencode(image, found, geometry)
            thumbnail, extension = _thumbnail(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError) as exc:
        raise refuse("The image is too large to be read.", "too_large") from exc
    except ValueError as exc:
        if "MAX_TEXT" in str(exc):  # PngImagePlugin's limits on inflated text chunks
            raise refuse("The image carries too much text to be read.", "too_large") from exc
        raise refuse("The image is damaged and cannot be read.", "bad_image") from exc
    except Exception as exc:  # a decoder fed hostile bytes may raise anything; none of it is a server error
        raise refuse("The image is damaged and cannot be read.", "bad_image") from exc
    return CleanImage(content, image.width, image.height, thumbnail, extension)
