"""Load and validate the kernel API tables shipped in config/api/."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from heuristics.tables import ApiTables

# Files whose stem names a section of ApiTables; the others contribute
# top-level keys.
_SECTIONS = frozenset({"gfp", "scope", "vmalloc", "reclaim", "paths"})


class TableError(Exception):
    """An API table file is missing, malformed or fails validation."""


def _api_files() -> list[tuple[str, bytes]]:
    root = resources.files("reviewbot_config").joinpath("api")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append((entry.name, entry.read_bytes()))
    return out


def parse_tables(files: list[tuple[str, bytes]]) -> ApiTables:
    """Merge and validate table files given as (name, TOML bytes)."""
    data: dict[str, Any] = {}
    for name, raw in files:
        try:
            content = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise TableError(f"config/api/{name}: {exc}") from exc
        stem = name.removesuffix(".toml")
        if stem in _SECTIONS:
            data[stem] = content
        else:
            for key, value in content.items():
                if key in data:
                    raise TableError(f"config/api/{name}: key {key!r} defined twice")
                data[key] = value
    try:
        return ApiTables.model_validate(data)
    except ValidationError as exc:
        raise TableError(f"config/api: {exc}") from exc


@lru_cache(maxsize=1)
def default_tables() -> ApiTables:
    """The tables shipped with reviewbot."""
    return parse_tables(_api_files())


def tables_from_dir(directory: Path) -> ApiTables:
    """Tables from another directory of *.toml files (site overrides)."""
    files = [(p.name, p.read_bytes()) for p in sorted(directory.glob("*.toml"))]
    return parse_tables(files)
