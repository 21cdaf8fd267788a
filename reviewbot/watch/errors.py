"""Errors the sources raise."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not be read this cycle (nothing was lost; the next poll retries)."""
