"""A serving process's garbage collection (config/gc_policy.py): what survives a full collection is
frozen, and the periodic full collection still frees cycles among frozen objects. That a serving process
installs it: tests/config/test_eager_write.py."""

from __future__ import annotations

import gc
import weakref

from config import gc_policy


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
