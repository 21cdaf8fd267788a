"""The rule modules; importing this package registers every rule (the one place)."""

from heuristics.rules import evict, memalloc, nofs, vmalloc

__all__ = ["evict", "memalloc", "nofs", "vmalloc"]
