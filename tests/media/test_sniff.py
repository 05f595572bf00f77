"""Type detection from bytes, claims against it, and name sanitising (no database)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from media.names import name_sanitize
from media.sniff import check_claims, extension_of, sniff
from tests.factories.media import ELF_BYTES, EXE_BYTES, HTML_BYTES, PDF_BYTES, SVG_SCRIPT_BYTES, image_bytes


def _sniff(data: bytes, name: str = ""):
    return sniff(file=io.BytesIO(data), extension=extension_of(name))


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (image_bytes("PNG"), "a.png", "image/png"),
        (image_bytes("JPEG"), "a.jpg", "image/jpeg"),
        (image_bytes("GIF"), "a.gif", "image/gif"),
        (image_bytes("WEBP"), "a.webp", "image/webp"),
        (PDF_BYTES, "a.pdf", "application/pdf"),
        (b"OggS\x00\x02" + b"\x00" * 40 + b"OpusHead", "voice.ogg", "audio/ogg"),
        (b"ID3\x04\x00" + b"\x00" * 40, "song.mp3", "audio/mpeg"),
        (b"#!AMR\n" + b"\x3c" * 40, "voice.amr", "audio/amr"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "clip.mp4", "video/mp4"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "memo.m4a", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "rec.webm", "video/webm"),
        (b"name,total\nGrace,3\n", "export.csv", "text/csv"),
        ("Grüße, 你好\n".encode(), "hello.txt", "text/plain"),
        (b"{\\rtf1\\ansi hello}", "memo.rtf", "application/rtf"),
    ],
)
def test_known_types_are_read_from_the_bytes(data, name, mime):
    assert _sniff(data, name).mime == mime


def test_office_documents_are_told_apart_by_their_parts():
    docx = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    xlsx = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"})
    odt = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<c/>"})
    assert _sniff(docx, "a.docx").extensions == ("docx",)
    assert _sniff(xlsx, "a.xlsx").extensions == ("xlsx",)
    assert _sniff(odt, "a.odt").extensions == ("odt",)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (EXE_BYTES, "executable"),
        (ELF_BYTES, "executable"),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", "executable"),
        (b"#!/bin/sh\nrm -rf ~\n", "executable"),
        (HTML_BYTES, "markup"),
        (b"  \n<html><body>hi</body></html>", "markup"),
        (SVG_SCRIPT_BYTES, "svg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "svg"),
        (_zip({"a.txt": b"x"}), "unknown_type"),
        (
            _zip({"[Content_Types].xml": b"<T/>", "word/document.xml": b"<w/>", "word/vbaProject.bin": b"x"}),
            "executable",
        ),
        (b"\x00\x01\x02\x03binary junk", "unknown_type"),
        (b"", "empty"),
    ],
)
def test_dangerous_or_unknown_bytes_are_refused(data, code):
    with pytest.raises(ValidationError) as caught:
        _sniff(data, "file")
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("data", "name", "claimed", "code"),
    [
        (image_bytes("PNG"), "cat.pdf", "", "type_mismatch"),
        (PDF_BYTES, "invoice.jpg", "", "type_mismatch"),
        (image_bytes("PNG"), "cat.png", "application/pdf", "type_mismatch"),
        (b"hello", "notes.txt", "image/png", "type_mismatch"),
        (b"hello", "notes.txt", "text/html", "markup"),
        (image_bytes("PNG"), "cat.png.exe", "", "executable"),
        (b"echo hi", "run.bat", "text/plain", "executable"),
    ],
)
def test_names_and_declared_types_must_agree_with_the_bytes(data, name, claimed, code):
    found = _sniff(data, name)
    with pytest.raises(ValidationError) as caught:
        check_claims(found=found, extension=extension_of(name), claimed_type=claimed)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("data", "name", "claimed"),
    [
        (image_bytes("JPEG"), "photo.jpeg", "image/jpg"),
        (image_bytes("PNG"), "no-extension", "application/octet-stream"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "voice.webm", "audio/webm"),
        (b"a,b\n1,2\n", "sheet.csv", "application/vnd.ms-excel"),
        (image_bytes("PNG"), "report.final", "image/png"),
    ],
)
def test_compatible_claims_pass(data, name, claimed):
    check_claims(found=_sniff(data, name), extension=extension_of(name), claimed_type=claimed)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("/var/www/../secret.txt", "secret.txt"),
        ("Résumé \u2013 履歴書 📄.pdf", "Résumé \u2013 履歴書 📄.pdf"),
        ("photo\u202egpj.exe", "photogpj.exe"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ('a<b>c:"d"|e?f*.txt', "a_b_c__d__e_f_.txt"),
        ("..", "file"),
        ("", "file"),
        ("   .hidden  ", "hidden"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
    ],
)
def test_names_keep_unicode_and_lose_paths_and_controls(raw, clean):
    assert name_sanitize(raw) == clean


def test_long_names_are_cut_keeping_the_extension():
    cleaned = name_sanitize("x" * 500 + ".pdf")
    assert len(cleaned) == 200 and cleaned.endswith(".pdf")
