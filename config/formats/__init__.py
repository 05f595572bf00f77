"""Our own date formats per language over Django's (FORMAT_MODULE_PATH, docs/i18n.md): English keeps the
short forms the staff pages always had (2026-12-05 22:32); other languages take Django's."""
