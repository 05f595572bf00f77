"""A serving process's garbage collection (config/gc_policy.py): what survives a full collection is
frozen, and the periodic full collection still frees cycles among frozen objects."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

from config import gc_policy

ROOT = Path(__file__).resolve().parents[2]


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_survivors_of_a_full_collection_are_frozen_and_the_periodic_one_frees_frozen_cycles():
    gc.callbacks.append(gc_policy._after_collection)
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle, alive while `a` and `b` are referenced
        gc.unfreeze()
        frozen_before = gc.get_freeze_count()
        gc.collect()  # a full collection: the survivors, the cycle among them, are frozen
        assert gc.get_freeze_count() > frozen_before
        alive = weakref.ref(a)
        del a, b
        gc.collect()  # frozen: a full collection no longer sees the cycle
        assert alive() is not None
        assert gc_policy.full_collect() >= 2
        assert alive() is None
    finally:
        gc.callbacks.remove(gc_policy._after_collection)
        gc.unfreeze()


def test_a_serving_process_installs_it_and_its_switch_interval():
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "import config.asgi, gc, sys; from config import gc_policy as g;"
        "print(g.installed() and g._after_collection in gc.callbacks and gc.get_freeze_count() > 0"
        " and sys.getswitchinterval() == 0.001)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "True"
