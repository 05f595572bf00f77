"""An image's size and frame count read from its headers, without decoding a pixel.

Decoders allocate the canvas they are told about: a 3 KB PNG may claim 100,000 x 100,000 pixels and a
3 KB GIF may hold 150 frames on a 2,000 x 2,000 canvas. So the pixel budget (media.images) is checked
against what the file declares before Pillow is given it. Each reader walks the format's chunk or block
structure, skipping payloads with seeks, and takes the largest extent any frame claims (a GIF frame may
reach past its logical screen, and decoders then grow the canvas).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from media.sniff import GIF, JPEG, PNG, WEBP, refuse

# Each frame costs bookkeeping whatever its size: a cap on the count besides the pixel budget.
MAX_FRAMES = 2000


@dataclass
class Geometry:
    width: int = 0
    height: int = 0
    frames: int = 0
    durations: list[int] = field(default_factory=list)  # milliseconds per frame, where the header says

    def grow(self, width: int, height: int) -> None:
        self.width, self.height = max(self.width, width), max(self.height, height)

    def add_frame(self) -> None:
        self.frames += 1
        if self.frames > MAX_FRAMES:
            raise refuse(f"The image has more than {MAX_FRAMES} frames.", "too_large")


def _damaged() -> Exception:
    return refuse("The image is damaged and cannot be read.", "bad_image")


def _read(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise _damaged()
    return data


def _png(file: BinaryIO) -> Geometry:
    _read(file, 8)
    geometry = Geometry(frames=1)
    # acTL must come before the first IDAT, and IHDR first of all.
    while True:
        length, kind = struct.unpack(">I4s", _read(file, 8))
        if kind == b"IHDR":
            width, height = struct.unpack(">II", _read(file, 8))
            geometry.grow(width, height)
            file.seek(length - 8 + 4, 1)
        elif kind == b"acTL":
            (frames,) = struct.unpack(">I", _read(file, 4))
            if frames > MAX_FRAMES:
                raise refuse(f"The image has more than {MAX_FRAMES} frames.", "too_large")
            geometry.frames = max(1, frames)
            file.seek(length - 4 + 4, 1)
        elif kind in (b"IDAT", b"IEND"):
            break
        else:
            file.seek(length + 4, 1)
    if not geometry.width:
        raise _damaged()
    return geometry


def _gif_skip_blocks(file: BinaryIO) -> None:
    while size := _read(file, 1)[0]:
        file.seek(size, 1)


def _gif(file: BinaryIO) -> Geometry:
    header = _read(file, 13)
    width, height, flags = struct.unpack("<HHB", header[6:11])
    geometry = Geometry(width=width, height=height)
    if flags & 0x80:
        file.seek(3 << ((flags & 7) + 1), 1)
    delay = 0
    while True:
        marker = file.read(1)
        if not marker or marker == b";":
            break
        if marker == b"!":
            label = _read(file, 1)[0]
            if label == 0xF9:  # graphic control: the next frame's delay
                block = file.read(1)
                data = _read(file, block[0]) if block and block[0] else b""
                if len(data) >= 3:
                    delay = struct.unpack("<H", data[1:3])[0] * 10
                if block and block[0]:
                    _gif_skip_blocks(file)
            else:
                _gif_skip_blocks(file)
        elif marker == b",":
            left, top, frame_width, frame_height, frame_flags = struct.unpack("<HHHHB", _read(file, 9))
            if frame_flags & 0x80:
                file.seek(3 << ((frame_flags & 7) + 1), 1)
            _read(file, 1)  # LZW minimum code size
            _gif_skip_blocks(file)
            geometry.grow(left + frame_width, top + frame_height)
            geometry.add_frame()
            geometry.durations.append(delay)
            delay = 0
        # Anything else is skipped a byte at a time, as Pillow's reader does.
    if not geometry.frames:
        raise _damaged()
    return geometry


def _u24(data: bytes) -> int:
    return data[0] | data[1] << 8 | data[2] << 16


def _webp(file: BinaryIO) -> Geometry:
    riff = _read(file, 12)
    end = 8 + struct.unpack("<I", riff[4:8])[0]
    geometry = Geometry()
    while file.tell() + 8 <= end:
        head = file.read(8)
        if len(head) < 8:  # a RIFF size past the end of the file: what is there is all there is
            break
        kind, length = struct.unpack("<4sI", head)
        start = file.tell()
        if kind == b"VP8X":
            data = _read(file, 10)
            geometry.grow(_u24(data[4:7]) + 1, _u24(data[7:10]) + 1)
        elif kind == b"ANMF":
            data = _read(file, 16)
            left, top = _u24(data[0:3]) * 2, _u24(data[3:6]) * 2
            geometry.grow(left + _u24(data[6:9]) + 1, top + _u24(data[9:12]) + 1)
            geometry.add_frame()
            geometry.durations.append(_u24(data[12:15]))
        elif kind == b"VP8 " and not geometry.frames:
            data = _read(file, 10)
            geometry.grow(*(value & 0x3FFF for value in struct.unpack("<HH", data[6:10])))
            geometry.frames = 1
        elif kind == b"VP8L" and not geometry.frames:
            (bits,) = struct.unpack("<I", _read(file, 5)[1:])
            geometry.grow((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            geometry.frames = 1
        file.seek(start + length + (length & 1))
    if not geometry.frames or not geometry.width:
        raise _damaged()
    return geometry


def _jpeg(file: BinaryIO) -> Geometry:
    _read(file, 2)
    geometry = Geometry(frames=1)
    while True:
        byte = file.read(1)
        if not byte:
            break
        if byte != b"\xff":
            continue
        marker = _read(file, 1)[0]
        if marker in (0xFF, 0x00, 0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            if marker == 0xFF:
                file.seek(-1, 1)
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: every frame header is behind us
            break
        (length,) = struct.unpack(">H", _read(file, 2))
        if length < 2:
            raise _damaged()
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">xHH", _read(file, 5))
            geometry.grow(width, height)
            file.seek(length - 7, 1)
        else:
            file.seek(length - 2, 1)
    if not geometry.width:
        raise _damaged()
    return geometry


_READERS = {PNG.mime: _png, GIF.mime: _gif, WEBP.mime: _webp, JPEG.mime: _jpeg}


def image_geometry(*, file: BinaryIO, mime: str) -> Geometry:
    """Width, height (the largest any frame reaches) and frame count, from the headers only."""
    file.seek(0)
    try:
        return _READERS[mime](file)
    except (struct.error, IndexError, OSError, ValueError) as exc:
        raise _damaged() from exc
    finally:
        file.seek(0)
