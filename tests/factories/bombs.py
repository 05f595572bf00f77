"""Decompression bombs: small files that claim or inflate to far more than they weigh.

Each is built here from its format's bytes, so nothing large is ever held or written by the tests.
"""

from __future__ import annotations

import bz2
import io
import struct
import zlib
from functools import cache

from PIL import Image

GB = 1024**3
_MB = 1024 * 1024


# --- zip archives ------------------------------------------------------------------------------------
@cache
def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """Raw deflate of `size` zero bytes, and their CRC-32, in about 1 KB per MB and without ever
    holding them: after a full flush the compressor starts afresh, so every megabyte compresses to
    the same bytes, and the stream is one such piece repeated."""
    assert size % _MB == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(_MB)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == piece
    crc = 0
    for _ in range(size // _MB):
        crc = zlib.crc32(zeros, crc)
    return piece * (size // _MB) + compressor.flush(zlib.Z_FINISH), crc


@cache
def _bzipped_zeros(size: int) -> tuple[bytes, int]:
    compressor = bz2.BZ2Compressor(9)
    zeros = bytes(_MB)
    parts = [compressor.compress(zeros) for _ in range(size // _MB)]
    crc = 0
    for _ in range(size // _MB):
        crc = zlib.crc32(zeros, crc)
    return b"".join(parts) + compressor.flush(), crc


def zip_bytes(members: list[tuple[str, bytes | tuple[int, str]]], *, declared: dict[str, int] | None = None) -> bytes:
    """A zip archive written by hand. A member is (name, content) or (name, (size, method)) for `size`
    zero bytes compressed with "deflate" or "bzip2". `declared` overrides a member's uncompressed size
    in its headers (a member that lies about its size)."""
    declared = declared or {}
    out = io.BytesIO()
    directory = []
    for name, content in members:
        if isinstance(content, bytes):
            method, size, crc = 8, len(content), zlib.crc32(content)
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            data = compressor.compress(content) + compressor.flush()
        else:
            size, kind = content
            method = {"deflate": 8, "bzip2": 12}[kind]
            data, crc = _deflated_zeros(size) if kind == "deflate" else _bzipped_zeros(size)
        size = declared.get(name, size)
        encoded = name.encode()
        version = 46 if method == 12 else 20
        offset = out.tell()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH", b"PK\x03\x04", version, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0
            )
        )
        out.write(encoded)
        out.write(data)
        directory.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                version,
                version,
                0,
                method,
                0,
                0x21,
                crc,
                len(data),
                size,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    for entry in directory:
        out.write(entry)
    out.write(
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(directory), len(directory), out.tell() - start, start, 0)
    )
    return out.getvalue()


ODT_MIME = b"application/vnd.oasis.opendocument.text"
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def odt_bytes() -> bytes:
    return zip_bytes([("mimetype", ODT_MIME), ("content.xml", b"<office:document-content/>")])


def docx_bytes(*, content_types: bytes = _CONTENT_TYPES) -> bytes:
    return zip_bytes([("[Content_Types].xml", content_types), ("word/document.xml", b"<w:document/>")])


def odt_bomb(size: int = GB, kind: str = "deflate") -> bytes:
    """An .odt whose `mimetype` member inflates to `size` bytes (1 GB from about 1 MB with deflate,
    from a few hundred bytes with bzip2)."""
    return zip_bytes([("mimetype", (size, kind)), ("content.xml", b"<office:document-content/>")])


def odt_lying_bomb(size: int = 256 * _MB, kind: str = "bzip2") -> bytes:
    """Its `mimetype` says it holds 46 bytes but inflates to `size` (bzip2 inflates it in one go)."""
    return zip_bytes([("mimetype", (size, kind)), ("content.xml", b"<x/>")], declared={"mimetype": 46})


def docx_bomb(size: int = GB) -> bytes:
    """A .docx whose [Content_Types].xml inflates to `size` bytes."""
    return zip_bytes([("[Content_Types].xml", (size, "deflate")), ("word/document.xml", b"<w:document/>")])


def docx_body_bomb(size: int = GB) -> bytes:
    """A .docx whose document body inflates to `size` bytes (nothing we read, but declared)."""
    return zip_bytes([("[Content_Types].xml", _CONTENT_TYPES), ("word/document.xml", (size, "deflate"))])


def zip_many_entries(entries: int = 60_000) -> bytes:
    """A document whose central directory alone is millions of bytes of tiny entries."""
    return zip_bytes([("[Content_Types].xml", _CONTENT_TYPES)] + [(f"word/{n}", b"") for n in range(entries)])


# --- images ------------------------------------------------------------------------------------------
def gif_bomb(frames: int = 150, canvas: tuple[int, int] = (2000, 2000)) -> bytes:
    """`frames` one-pixel frames on a big logical screen: 3.5 KB that decoders turn into a full-canvas
    image per frame."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *canvas, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    for n in range(frames):
        out += b"!\xf9\x04\x00\x0a\x00\x00\x00"  # 100 ms
        out += b"," + struct.pack("<HHHHB", n % canvas[0], 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"  # a white pixel
    return bytes(out + b";")


def gif_frame_outside_canvas(extent: tuple[int, int] = (60000, 60000)) -> bytes:
    """A 1 x 1 logical screen whose second frame claims to reach `extent`: decoders grow the canvas."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff")
    out += b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    out += b"," + struct.pack("<HHHHB", extent[0] - 1, extent[1] - 1, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return bytes(out + b";")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims width x height, with one row of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def apng_bomb(frames: int = 400, size: tuple[int, int] = (1000, 1000)) -> bytes:
    """An animated PNG declaring `frames` full frames of `size`."""
    image = Image.new("L", size)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = buffer.getvalue()
    actl = _png_chunk(b"acTL", struct.pack(">II", frames, 0))
    return data[:33] + actl + data[33:]


def jpeg_header_bomb(width: int = 65000, height: int = 65000) -> bytes:
    """A JPEG whose frame header claims width x height."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_bomb(frames: int = 150, canvas: tuple[int, int] = (4000, 4000)) -> bytes:
    """An animated WebP of `frames` one-pixel frames on a big canvas."""
    buffer = io.BytesIO()
    Image.new("RGBA", (1, 1)).save(buffer, "WEBP", lossless=True)
    still = buffer.getvalue()
    at = still.index(b"VP8L")
    vp8l = still[at : at + 8 + struct.unpack("<I", still[at + 4 : at + 8])[0]]

    def u24(value: int) -> bytes:
        return struct.pack("<I", value)[:3]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")

    body = chunk(b"VP8X", bytes([0x12, 0, 0, 0]) + u24(canvas[0] - 1) + u24(canvas[1] - 1))
    body += chunk(b"ANIM", b"\x00\x00\x00\x00\x00\x00")
    frame = u24(0) + u24(0) + u24(0) + u24(0) + u24(100) + b"\x00"
    body += chunk(b"ANMF", frame + vp8l) * frames
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def tiff_pages(pages: int = 50, size: tuple[int, int] = (2000, 2000)) -> bytes:
    """A multi-page TIFF (not an accepted type: it must be refused before any decoder sees it)."""
    buffer = io.BytesIO()
    first = Image.new("1", size)
    first.save(buffer, "TIFF", save_all=True, append_images=[first] * (pages - 1), compression="packbits")
    return buffer.getvalue()


def png_text_bomb(chunks: int = 80, size: int = 1024 * 1024 - 64) -> bytes:
    """A small PNG carrying `chunks` compressed text chunks that each inflate to `size` bytes."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    data = buffer.getvalue()
    text = b"k\x00\x00" + zlib.compress(bytes(size), 9)
    return data[:33] + b"".join(_png_chunk(b"zTXt", b"c%d" % n + text) for n in range(chunks)) + data[33:]
