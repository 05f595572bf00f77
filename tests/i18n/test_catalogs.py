"""The translation catalogs (docs/i18n.md): `make test` fails while a zh-Hans entry is untranslated or
fuzzy, while msgfmt refuses a catalog, or while the code holds a marked string the catalog lacks (or the
catalog one the code no longer has): `make messages`, translate, and run again."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import translation

from switchboard.field_labels import APPS, FIELD_LABELS, field_needs_label

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
LANGUAGES = ["zh_Hans"]  # every language but the source's (en): each must be complete
DOMAINS = ["django", "djangojs"]
# What `make messages` passes (Makefile): the same extraction, or the comparison below means nothing.
MAKEMESSAGES_IGNORE = {
    "django": [".venv", "var", "tests", "bench"],
    "djangojs": [".venv", "var", "tests", "bench", "static/api", "node_modules"],
}


def po_entries(path: Path) -> list[dict]:
    """A .po file's entries: msgctxt, msgid, msgid_plural, msgstr (a list, one per plural form), flags."""
    entries: list[dict] = []
    entry: dict | None = None
    field: tuple | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            entry, field = None, None
            continue
        if entry is None:
            entry = {"msgctxt": None, "msgid": "", "msgid_plural": None, "msgstr": {}, "flags": set()}
            entries.append(entry)
        if line.startswith("#,"):
            entry["flags"] |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += text
            else:
                entry[field[0]] += text
        else:
            keyword, _, rest = line.partition(" ")
            text = ast.literal_eval(rest)
            if keyword.startswith("msgstr"):
                index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
                field = ("msgstr", index)
                entry["msgstr"][index] = text
            else:
                field = (keyword, None)
                entry[keyword] = text
    return entries


def catalogs() -> list[Path]:
    return [
        LOCALE / language / "LC_MESSAGES" / f"{domain}.po"
        for language in LANGUAGES
        for domain in DOMAINS
        if (LOCALE / language / "LC_MESSAGES" / f"{domain}.po").exists()
    ]


def _key(entry: dict) -> tuple:
    return (entry["msgctxt"], entry["msgid"], entry["msgid_plural"])


def test_the_catalogs_exist():
    assert LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po" in catalogs()


@pytest.mark.parametrize("path", catalogs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_msgfmt_accepts_the_catalog(path):
    checked = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    # "N translated messages." and nothing fuzzy or untranslated beside it.
    assert "fuzzy" not in checked.stderr and "untranslated" not in checked.stderr, checked.stderr


@pytest.mark.parametrize("path", catalogs(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_entry_is_translated_and_none_is_fuzzy(path):
    entries = po_entries(path)
    header = next(e for e in entries if e["msgid"] == "" and e["msgctxt"] is None)
    assert "fuzzy" not in header["flags"], f"{path}: the header is fuzzy"
    assert "Plural-Forms: nplurals=1; plural=0;" in header["msgstr"][0], "Chinese has one plural form"
    messages = [e for e in entries if e is not header]
    untranslated = [e["msgid"] for e in messages if not all(e["msgstr"].values()) or not e["msgstr"]]
    fuzzy = [e["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert not untranslated, f"{path}: untranslated: {untranslated}"
    assert not fuzzy, f"{path}: fuzzy: {fuzzy}"


EXTRACT = textwrap.dedent(
    """
    import sys
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.LOCALE_PATHS = []  # the working folder's locale/: the copy
    call_command(
        "makemessages", locale=["zh_Hans"], domain=sys.argv[1], no_location=True, no_obsolete=True,
        ignore_patterns=sys.argv[2:], symlinks=True, verbosity=0,
    )
    """
)


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_catalog_holds_every_marked_string_of_the_code_and_no_other(domain, tmp_path):
    """makemessages into a copy of the catalogs: the same messages come out as are committed. It runs in a
    folder of links to the project's (makemessages writes to the locale/ of the folder it walks)."""
    committed = LOCALE / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy, ignore=shutil.ignore_patterns("*.mo"))
    for entry in ROOT.iterdir():
        if entry.name not in {"locale", ".git", ".venv", "var", "node_modules"}:
            (tmp_path / entry.name).symlink_to(entry)
    subprocess.run(
        [sys.executable, "-c", EXTRACT, domain, *MAKEMESSAGES_IGNORE[domain]],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=180,
    )
    extracted = copy / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
    if not committed.exists():
        assert not extracted.exists(), f"strings are marked for {domain} but there is no catalog: make messages"
        return
    want = {_key(e) for e in po_entries(extracted) if e["msgid"]}
    have = {_key(e) for e in po_entries(committed) if e["msgid"]}
    assert not want - have, f"marked in the code, missing from {committed.name} (make messages): {want - have}"
    assert not have - want, f"in {committed.name}, no longer in the code (make messages): {have - want}"


def test_every_field_labelled_by_its_name_has_a_translated_label():
    """switchboard/field_labels.py names every field of ours that has no verbose_name of its own."""
    with translation.override("en"):
        missing = _unlabelled()
    assert not missing, f"add to FIELD_LABELS: {missing}"


def _unlabelled() -> list[str]:
    return sorted(
        {
            f"{model._meta.label}.{field.name}: {field.verbose_name!r}"
            for model in apps.get_models()
            if model._meta.app_label in APPS
            for field in [*model._meta.local_fields, *model._meta.local_many_to_many]
            if field_needs_label(field) and str(field.verbose_name) not in FIELD_LABELS
        }
    )


def test_the_browser_catalog_is_cached_by_the_browser_and_never_once_per_query_string(client):
    from django.core.cache import cache

    cache.clear()
    for n in range(3):
        response = client.get(f"/jsi18n/?l=zh-hans&junk={n}", HTTP_ACCEPT_LANGUAGE="zh-CN")
        assert response.status_code == 200
        assert "max-age=3600" in response["Cache-Control"]
    store = cache._cache  # LocMemCache: a dict of keys; RedisCache: its client
    keys = list(store) if isinstance(store, dict) else list(store.get_client(None).scan_iter("*"))
    # cache_page's keys read "views.decorators.cache.cache_page...": none may be left by the catalog.
    assert [key for key in keys if b"views.decorators.cache" in (key if isinstance(key, bytes) else key.encode())] == []
