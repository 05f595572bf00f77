"""The name a person gave a file, made safe to show and to offer as a download name.

It is never used to store the file (stored names are random), but it does travel back to browsers in
Content-Disposition and to agents on screen, so paths, control and direction-override characters go.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 200
FALLBACK_NAME = "file"
_WINDOWS_RESERVED = re.compile(r'[<>:"|?*\\/]')
_WHITESPACE = re.compile(r"\s+")


def name_sanitize(name: str | None) -> str:
    """Keep letters of every script; drop directories, control and format characters (including the
    right-to-left override that makes "photo\u202egpj.exe" look like a JPEG), leading dots and
    Windows-reserved characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _WINDOWS_RESERVED.sub("_", name)
    name = _WHITESPACE.sub(" ", name).strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = f"{stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(' .')}.{extension}"
        else:
            name = name[:MAX_NAME_LENGTH].rstrip(" .")
    return name or FALLBACK_NAME
