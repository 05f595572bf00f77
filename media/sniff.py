"""What a file really is, read from its bytes.

A small magic-number table rather than libmagic or a library (docs/dependencies.md): we accept a short
list of types, so the table is the whole allow-list, it reads in one screen, and it refuses everything
it does not know. The name and the declared type are only checked against the answer, never trusted.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from django.core.exceptions import ValidationError

from media.models import TypeFamily

HEAD_SIZE = 8192


@dataclass(frozen=True)
class FileType:
    mime: str
    family: str
    extensions: tuple[str, ...]  # the first one names the stored file
    label: str


def _t(mime: str, family: str, extensions: str, label: str) -> FileType:
    return FileType(mime, family, tuple(extensions.split()), label)


PNG = _t("image/png", TypeFamily.IMAGE, "png", "PNG image")
JPEG = _t("image/jpeg", TypeFamily.IMAGE, "jpg jpeg jpe jfif", "JPEG image")
GIF = _t("image/gif", TypeFamily.IMAGE, "gif", "GIF image")
WEBP = _t("image/webp", TypeFamily.IMAGE, "webp", "WebP image")
PDF = _t("application/pdf", TypeFamily.PDF, "pdf", "PDF document")
OGG = _t("audio/ogg", TypeFamily.AUDIO, "ogg oga opus", "Ogg audio")
MP3 = _t("audio/mpeg", TypeFamily.AUDIO, "mp3", "MP3 audio")
AAC = _t("audio/aac", TypeFamily.AUDIO, "aac", "AAC audio")
WAV = _t("audio/wav", TypeFamily.AUDIO, "wav", "WAV audio")
M4A = _t("audio/mp4", TypeFamily.AUDIO, "m4a m4b", "MPEG-4 audio")
AMR = _t("audio/amr", TypeFamily.AUDIO, "amr", "AMR voice")
FLAC = _t("audio/flac", TypeFamily.AUDIO, "flac", "FLAC audio")
MP4 = _t("video/mp4", TypeFamily.VIDEO, "mp4 m4v", "MPEG-4 video")
MOV = _t("video/quicktime", TypeFamily.VIDEO, "mov qt", "QuickTime video")
GPP = _t("video/3gpp", TypeFamily.VIDEO, "3gp 3g2", "3GPP video")
WEBM = _t("video/webm", TypeFamily.VIDEO, "webm weba", "WebM media")
MKV = _t("video/x-matroska", TypeFamily.VIDEO, "mkv mka", "Matroska media")
DOCX = _t(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", TypeFamily.DOCUMENT, "docx", "Word"
)
XLSX = _t("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", TypeFamily.DOCUMENT, "xlsx", "Excel")
PPTX = _t(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    TypeFamily.DOCUMENT,
    "pptx",
    "PowerPoint",
)
ODT = _t("application/vnd.oasis.opendocument.text", TypeFamily.DOCUMENT, "odt", "OpenDocument text")
ODS = _t("application/vnd.oasis.opendocument.spreadsheet", TypeFamily.DOCUMENT, "ods", "OpenDocument sheet")
ODP = _t("application/vnd.oasis.opendocument.presentation", TypeFamily.DOCUMENT, "odp", "OpenDocument slides")
DOC = _t("application/msword", TypeFamily.DOCUMENT, "doc", "Word 97-2003")
XLS = _t("application/vnd.ms-excel", TypeFamily.DOCUMENT, "xls", "Excel 97-2003")
PPT = _t("application/vnd.ms-powerpoint", TypeFamily.DOCUMENT, "ppt", "PowerPoint 97-2003")
RTF = _t("application/rtf", TypeFamily.DOCUMENT, "rtf", "RTF document")
TEXT = _t("text/plain", TypeFamily.TEXT, "txt text log md", "text")
CSV = _t("text/csv", TypeFamily.TEXT, "csv tsv", "CSV")

ALL_TYPES = (
    PNG, JPEG, GIF, WEBP, PDF, OGG, MP3, AAC, WAV, M4A, AMR, FLAC, MP4, MOV, GPP, WEBM, MKV,
    DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT, RTF, TEXT, CSV,
)  # fmt: skip
KNOWN_EXTENSIONS = frozenset(ext for t in ALL_TYPES for ext in t.extensions)
SAFE_INLINE_IMAGES = frozenset({PNG.mime, JPEG.mime, GIF.mime, WEBP.mime})

# Names that run something when opened, whatever the bytes say: refused outright.
DANGEROUS_EXTENSIONS = frozenset(
    """exe dll com scr msi msp msix appx bat cmd ps1 psm1 vbs vbe js jse mjs wsf wsh hta cpl msc gadget jar
    apk app dmg pkg deb rpm sh bash zsh csh py pyc pyw pl rb php phtml phar cgi lnk url reg inf scf html htm
    xhtml shtml mht mhtml svg svgz xml xsl xslt swf iso img vhd vhdx docm dotm xlsm xltm xlam pptm potm ppam
    sldm""".split()  # noqa: SIM905 (a word list reads better than 75 quoted strings)
)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_BY_EXTENSION = {"doc": DOC, "xls": XLS, "ppt": PPT}
_EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xfe\xed\xfa\xce", "a macOS program"),
    (b"\xfe\xed\xfa\xcf", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a macOS or Java program"),
    (b"\x00asm", "a WebAssembly program"),
    (b"dex\n", "an Android program"),
)
# Tags that make a browser treat text as HTML (WHATWG MIME sniffing, "identifying a resource with an
# unknown MIME type"), plus SVG and XML, which can carry script too.
_MARKUP_PREFIXES = (
    b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font", b"<table", b"<a",
    b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--", b"<?xml", b"<svg", b"<object", b"<embed",
    b"<img", b"<meta", b"<link", b"<form",
)  # fmt: skip
_TEXT_CONTROL_OK = {9, 10, 12, 13, 27}


def refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""


def _refuse_executable(head: bytes) -> None:
    for magic, what in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            raise refuse(f"This file is {what}; programs are not accepted.", "executable")
    if head.startswith(b"#!") and not head.startswith(b"#!AMR"):
        raise refuse("This file is a script; scripts are not accepted.", "executable")


def _looks_like_markup(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if b"<svg" in text or b"<script" in text:
        return True
    for prefix in _MARKUP_PREFIXES:
        if text.startswith(prefix):
            following = text[len(prefix) : len(prefix) + 1]
            if prefix in (b"<!--", b"<?xml") or following in (b"", b" ", b">", b"\t", b"\n", b"\r", b"/"):
                return True
    return False


def _sniff_ftyp(head: bytes, extension: str) -> FileType | None:
    brand = head[8:12]
    if brand in (b"M4A ", b"M4B "):
        return M4A
    if brand == b"qt  ":
        return MOV
    if brand.startswith(b"3g"):
        return GPP
    if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"):
        return None
    # Generic brands (isom, mp41, mp42, ...) are used for both; the name decides audio or video.
    return M4A if extension in M4A.extensions else MP4


# Office files are zip archives. We read only the central directory and at most two small members, and
# each bound holds before anything is inflated: the directory's declared size, each member's declared
# size, the compression method (stored or deflate only: bzip2 and LZMA inflate a whole block at a time,
# so a few hundred bytes can become a gigabyte before the first byte comes out), and the bytes read.
ZIP_MAX_DIRECTORY = 2 * 1024 * 1024  # about 20,000 entries; real documents use a few hundred
ZIP_MAX_ENTRIES = 20_000
ZIP_MAX_UNPACKED = 512 * 1024 * 1024  # all members together, as declared
_ZIP_MIMETYPE_MAX = 256  # "application/vnd.oasis.opendocument.presentation" is 46 bytes
_ZIP_CONTENT_TYPES_MAX = 1024 * 1024
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


def _zip_directory_size(file: BinaryIO) -> tuple[int, int]:
    """(entries, bytes) of the central directory as the end record declares them, found the way
    zipfile finds it, so that the directory zipfile is about to parse is the one measured here."""
    file.seek(0, 2)
    size = file.tell()
    tail_start = max(0, size - (65535 + 22))
    file.seek(tail_start)
    tail = file.read()
    offset = len(tail) - 22 if tail[-22:-18] == _EOCD and tail[-2:] == b"\0\0" else tail.rfind(_EOCD)
    if offset < 0 or len(tail) - offset < 22:
        raise refuse("This archive is damaged or not a document.", "unknown_type")
    entries, directory = struct.unpack("<xxxxxxxxxxHI", tail[offset : offset + 16])
    locator_at = tail_start + offset - 20
    if locator_at >= 56:
        file.seek(locator_at)
        locator = file.read(20)
        if locator[:4] == _EOCD64_LOCATOR:
            file.seek(locator_at - 56)
            record = file.read(56)
            if record[:4] != _EOCD64:
                raise refuse("This archive is damaged or not a document.", "unknown_type")
            entries, directory = struct.unpack("<32xQQ", record[:48])
    file.seek(0)
    return entries, directory


def _zip_member_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """At most `limit` bytes of a member, inflated as they are read; refused beforehand when it declares
    more, or uses a compression method that cannot be read a little at a time."""
    if info.compress_type not in _ZIP_METHODS:
        raise refuse("This document uses a compression method documents never use.", "unknown_type")
    if info.file_size > limit:
        raise refuse(
            f"This document's {info.filename} unpacks to {info.file_size} bytes (at most {limit} are read).",
            "too_large",
        )
    with archive.open(info) as member:
        # zipfile inflates deflate with a bound on its output and stops at the declared size.
        data = member.read(limit + 1)
    if len(data) > limit:  # pragma: no cover - zipfile stops at the declared size
        raise refuse(f"This document's {info.filename} is larger than it says.", "too_large")
    return data


def _zip_check_sizes(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > ZIP_MAX_ENTRIES:
        raise refuse(f"This document holds too many files ({len(infos)}).", "too_large")
    unpacked = sum(info.file_size for info in infos)
    if unpacked > ZIP_MAX_UNPACKED:
        raise refuse(
            f"This document unpacks to {unpacked} bytes; at most {ZIP_MAX_UNPACKED} are accepted.", "too_large"
        )
    for info in infos:
        if info.compress_type not in _ZIP_METHODS:
            raise refuse("This document uses a compression method documents never use.", "unknown_type")


def _sniff_zip_archive(archive: zipfile.ZipFile) -> FileType:
    infos = archive.infolist()
    _zip_check_sizes(infos)
    names = [info.filename for info in infos]
    if names and names[0] == "mimetype":
        declared = _zip_member_read(archive, infos[0], _ZIP_MIMETYPE_MAX).decode("ascii", "replace").strip()
        for candidate in (ODT, ODS, ODP):
            if declared == candidate.mime:
                return candidate
    if "[Content_Types].xml" in names:
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise refuse("Office files with macros are not accepted.", "executable")
        content_types = _zip_member_read(archive, archive.getinfo("[Content_Types].xml"), _ZIP_CONTENT_TYPES_MAX)
        if b"macroenabled" in content_types.lower():
            raise refuse("Office files with macros are not accepted.", "executable")
        for prefix, kind in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
            if any(name.startswith(prefix) for name in names):
                return kind
    raise refuse("Archives are not accepted; send the files one by one.", "unknown_type")


def _sniff_zip(file: BinaryIO) -> FileType:
    try:
        entries, directory = _zip_directory_size(file)
        if entries > ZIP_MAX_ENTRIES or directory > ZIP_MAX_DIRECTORY:
            raise refuse(f"This document holds too many files ({entries}).", "too_large")
        with zipfile.ZipFile(file) as archive:
            return _sniff_zip_archive(archive)
    except ValidationError:
        raise
    except Exception as exc:  # hostile bytes make zipfile and zlib raise all kinds of errors
        raise refuse("This archive is damaged or not a document.", "unknown_type") from exc


def _sniff_text(head: bytes, extension: str) -> FileType | None:
    sample = head.removeprefix(b"\xef\xbb\xbf")
    if any(byte < 32 and byte not in _TEXT_CONTROL_OK for byte in sample) or b"\x7f" in sample:
        return None
    return CSV if extension in CSV.extensions else TEXT


def sniff(*, file: BinaryIO, extension: str = "") -> FileType:
    """The type of a seekable file, from its bytes; a ValidationError (with a code) when refused."""
    file.seek(0)
    head = file.read(HEAD_SIZE)
    file.seek(0)
    if not head:
        raise refuse("The file is empty.", "empty")
    _refuse_executable(head)
    found: FileType | None = None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        found = PNG
    elif head.startswith(b"\xff\xd8\xff"):
        found = JPEG
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        found = GIF
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = WEBP
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        found = WAV
    elif head.startswith(b"%PDF-"):
        found = PDF
    elif head.startswith(b"OggS"):
        found = OGG
    elif head.startswith(b"fLaC"):
        found = FLAC
    elif head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        found = AMR
    elif head.startswith(b"ID3"):
        found = MP3
    elif len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync: layer bits 00 mean ADTS (AAC), anything else MP3.
        found = AAC if (head[1] >> 1) & 0b11 == 0 else MP3
    elif head[4:8] == b"ftyp":
        found = _sniff_ftyp(head, extension)
    elif head.startswith(b"\x1a\x45\xdf\xa3"):
        found = WEBM if b"webm" in head[:64] else MKV
    elif head.startswith(_OLE):
        found = _OLE_BY_EXTENSION.get(extension)
        if found is None:
            raise refuse("Send Office 97-2003 files with their .doc, .xls or .ppt name.", "unknown_type")
    elif head.startswith(b"PK\x03\x04"):
        found = _sniff_zip(file)
        file.seek(0)
    elif head.startswith(b"{\\rtf"):
        found = RTF
    else:
        if _looks_like_markup(head):
            if b"<svg" in head.lower():
                raise refuse("SVG images are not accepted (they can carry scripts); send PNG or JPEG.", "svg")
            raise refuse("HTML and XML files are not accepted.", "markup")
        found = _sniff_text(head, extension)
    if found is None:
        raise refuse("This type of file is not accepted.", "unknown_type")
    return found


def claimed_family(mime: str) -> str | None:
    """The family a declared Content-Type names; None when it says nothing useful."""
    mime = (mime or "").split(";", 1)[0].strip().lower()
    if not mime or mime in ("application/octet-stream", "binary/octet-stream", "application/unknown"):
        return None
    if mime in ("text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"):
        return "markup"
    if mime.startswith("image/"):
        return TypeFamily.IMAGE
    if mime == "application/pdf":
        return TypeFamily.PDF
    if mime.startswith("audio/"):
        return TypeFamily.AUDIO
    if mime.startswith("video/"):
        return TypeFamily.VIDEO
    if mime.startswith("text/"):
        return TypeFamily.TEXT
    return TypeFamily.DOCUMENT


# Containers that hold sound or pictures alike, and spreadsheets that browsers declare as Excel.
_COMPATIBLE = [{TypeFamily.AUDIO, TypeFamily.VIDEO}, {TypeFamily.DOCUMENT, TypeFamily.TEXT}]


def check_claims(*, found: FileType, extension: str, claimed_type: str) -> None:
    """Refuse a file whose name or declared type says something other than its bytes."""
    if extension in DANGEROUS_EXTENSIONS:
        raise refuse(f"Files named .{extension} are not accepted.", "executable")
    if extension in KNOWN_EXTENSIONS and extension not in found.extensions:
        raise refuse(f"The file's contents ({found.label}) do not match its name (.{extension}).", "type_mismatch")
    family = claimed_family(claimed_type)
    if family == "markup":
        raise refuse("HTML, XML and SVG files are not accepted.", "markup")
    if family is None or family == found.family:
        return
    if any(family in group and found.family in group for group in _COMPATIBLE):
        return
    raise refuse(
        f"The file's contents ({found.label}) do not match its declared type ({claimed_type}).", "type_mismatch"
    )
