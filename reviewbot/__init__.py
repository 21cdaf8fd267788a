"""reviewbot: reviews Linux kernel patches for memory-reclaim recursion hazards."""

__version__ = "0.1.0"
