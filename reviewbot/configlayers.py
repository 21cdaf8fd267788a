"""Where settings come from: defaults, a site file, git config, the environment, the command line.

Later layers override earlier ones key by key: a list is replaced as a
whole, a table such as ``[rules.severity]`` entry by entry.

git config: ``[reviewbot "SECTION"] KEY = VALUE``, e.g. ``git config
reviewbot.hooks.failOn error``. Key names ignore case, ``-`` and ``_``.
Tables are subsections (``git config reviewbot.rules.severity.NOFS-001
warning``); lists take several values (``git config --add``) or one
comma-separated value; ``reviewbot.config`` names a site file.

Environment: ``REVIEWBOT_<SECTION>_<KEY>``, e.g. ``REVIEWBOT_HOOKS_FAIL_ON=warning``.
Lists are comma-separated, tables are ``ID=VALUE`` pairs separated by ``;``
(``REVIEWBOT_RULES_SEVERITY="NOFS-001=warning;NOFS-004=advice"``);
``REVIEWBOT_CONFIG`` names a site file. Variables whose section is not a
settings section are left alone; an unknown key in a known section is an
error naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from reviewbot.config import ConfigError, Settings, default_data, merge, read_site_file
from reviewbot.gitcmd import run_git

Key = tuple[str, ...]
Kind = Literal["scalar", "bool", "list", "table", "table-of-lists"]

ENV_PREFIX = "REVIEWBOT_"
ENV_CONFIG = "REVIEWBOT_CONFIG"
DEFAULTS_NAME = "config/default.toml"
# Tables keyed by rule id: git lowercases variable names, rule ids are upper case.
_RULE_KEYED = {("rules", "severity"), ("rules", "paths")}
_GIT_TRUE = {"true", "yes", "on", "1"}
_GIT_FALSE = {"false", "no", "off", "0", ""}


@dataclass(slots=True)
class Layer:
    """One source of settings: its data and, per key, exactly where it was set."""

    name: str
    # Not in the repr: a layer's raw values include the SMTP password and the token.
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    where: dict[Key, str] = field(default_factory=dict)

    def set(self, key: Key, value: Any, where: str | None = None) -> None:
        """Set a (nested) key, remembering its origin."""
        node = self.data
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = value
        if where is not None:
            self.where[key] = where


@dataclass(slots=True)
class Effective:
    """The validated settings, each key's origin, and the layers consulted."""

    settings: Settings
    origins: dict[Key, str]
    layers: list[Layer]
    site_file: Path | None = None


# -- the schema ----------------------------------------------------------------


def _norm(name: str) -> str:
    return name.replace("-", "").replace("_", "").lower()


def section_model(section: str) -> type[BaseModel] | None:
    """The pydantic model of a settings section (None for an unknown section)."""
    info = Settings.model_fields.get(section)
    if info is None or not isinstance(info.annotation, type):
        return None
    model = info.annotation
    return model if issubclass(model, BaseModel) else None


def field_name(section: str, name: str) -> str:
    """The field of ``section`` that ``name`` means (ignoring case, - and _); else ``name``."""
    model = section_model(section)
    if model is None:
        return name
    wanted = _norm(name)
    for field_ in model.model_fields:
        if _norm(field_) == wanted:
            return field_
    return name


def field_kind(section: str, name: str) -> Kind:
    """How a field's values are written in git config and the environment."""
    model = section_model(section)
    info = model.model_fields.get(name) if model is not None else None
    if info is None:
        return "scalar"
    annotation = info.annotation
    origin = get_origin(annotation)
    if origin is list:
        return "list"
    if origin is dict:
        value = get_args(annotation)[1]
        return "table-of-lists" if get_origin(value) is list else "table"
    if annotation is bool:
        return "bool"
    return "scalar"


def _split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _entry_key(section: str, table: str, key: str) -> str:
    return key.upper() if (section, table) in _RULE_KEYED else key


# -- git config ----------------------------------------------------------------


def read_git_config(cwd: Path | None = None) -> list[tuple[str, str, str | None]]:
    """(origin, key, value) of every ``reviewbot.*`` entry git config sees, in git's order.

    ``value`` is None for a key written without ``=`` (git's "true"). Outside
    a repository only the global configuration is read; without git, nothing.
    """
    try:
        done = run_git(["config", "-z", "--show-origin", "--get-regexp", r"^reviewbot\."], cwd)
    except (FileNotFoundError, NotADirectoryError):
        return []
    if done.returncode == 1:
        return []
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ConfigError(f"git config: {message[0] if message else 'failed'}")
    fields = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    for origin, item in zip(fields[0::2], fields[1::2], strict=False):
        key, newline, value = item.partition("\n")
        entries.append((origin, key, value if newline else None))
    return entries


def git_layer(entries: Sequence[tuple[str, str, str | None]]) -> tuple[Layer, str | None]:
    """The git config layer, and the site file ``reviewbot.config`` names (if any)."""
    layer = Layer("git config")
    site: str | None = None
    lists: dict[Key, list[str]] = {}
    for origin, key, value in entries:
        where = f"git config {key} ({origin})"
        rest = key.removeprefix("reviewbot.")
        subsection, _, var = rest.rpartition(".")
        if not subsection:
            if var == "config":
                site = value or ""
                continue
            raise ConfigError(f"{where}: unknown key (settings go in [reviewbot \"SECTION\"])")
        parts = subsection.split(".")
        section = parts[0]
        if len(parts) == 1:
            name = field_name(section, var)
            path: Key = (section, name)
            kind = field_kind(section, name)
        elif len(parts) == 2:
            table = field_name(section, parts[1])
            path = (section, table, _entry_key(section, table, var))
            kind = "list" if field_kind(section, table) == "table-of-lists" else "scalar"
        else:
            raise ConfigError(f"{where}: unknown key")
        if kind == "list":
            lists.setdefault(path, []).extend(_split_list(value or ""))
            layer.set(path, lists[path], where)
        elif kind == "bool":
            layer.set(path, _git_bool(value, where), where)
        else:
            layer.set(path, value if value is not None else "", where)
    return layer, site


def _git_bool(value: str | None, where: str) -> bool:
    if value is None:
        return True
    if value.strip().lower() in _GIT_TRUE:
        return True
    if value.strip().lower() in _GIT_FALSE:
        return False
    raise ConfigError(f"{where}: not a boolean: {value!r}")


# -- the environment -----------------------------------------------------------


def env_layer(environ: Mapping[str, str]) -> Layer:
    """``REVIEWBOT_<SECTION>_<KEY>`` variables of settings sections."""
    layer = Layer("environment")
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG:
            continue
        section, _, rest = var[len(ENV_PREFIX):].partition("_")
        section = section.lower()
        if section_model(section) is None:
            continue
        if not rest:
            raise ConfigError(f"{var}: no key after the section (REVIEWBOT_SECTION_KEY)")
        name = field_name(section, rest.lower())
        value = environ[var]
        kind = field_kind(section, name)
        where = f"environment {var}"
        if kind == "list":
            layer.set((section, name), _split_list(value), where)
        elif kind in ("table", "table-of-lists"):
            for pair in value.split(";"):
                if not pair.strip():
                    continue
                entry, eq, item = pair.partition("=")
                if not eq:
                    raise ConfigError(f"{var}: expected ID=VALUE pairs separated by ';'")
                entry = _entry_key(section, name, entry.strip())
                parsed: Any = _split_list(item) if kind == "table-of-lists" else item.strip()
                layer.set((section, name, entry), parsed, where)
        else:
            layer.set((section, name), value, where)
    return layer


# -- putting it together ----------------------------------------------------------


def _leaves(data: Mapping[str, Any], prefix: Key = ()) -> Iterator[Key]:
    """Keys whose values are set as a whole (table entries are leaves, tables too)."""
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            yield path
            yield from _leaves(value, path)
        else:
            yield path


def _name_of(layer: Layer, loc: Key) -> str:
    """The most precise origin the layer knows for ``loc`` (a key, a parent or a child)."""
    for end in range(len(loc), 0, -1):
        where = layer.where.get(loc[:end])
        if where is not None:
            return where
    children = sorted({w for k, w in layer.where.items() if k[:len(loc)] == loc})
    return ", ".join(children) if children else layer.name


def _check(data: dict[str, Any], layer: Layer) -> None:
    """Validate ``data`` (everything up to ``layer``); errors name ``layer``'s source."""
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            parts.append(f"{_name_of(layer, loc)}: {'.'.join(loc)}: {msg}")
        raise ConfigError("; ".join(parts)) from exc


def site_file_path(explicit: Path | None, environ: Mapping[str, str],
                   git_site: str | None, cwd: Path | None) -> Path | None:
    """--config, else $REVIEWBOT_CONFIG, else git config reviewbot.config."""
    if explicit is not None:
        return explicit
    for value in (environ.get(ENV_CONFIG), git_site):
        if value:
            path = Path(os.path.expanduser(value))
            return path if path.is_absolute() or cwd is None else cwd / path
    return None


def load_effective(config_path: Path | None = None,
                   cli: Sequence[tuple[Key, Any, str]] = (),
                   cwd: Path | None = None,
                   environ: Mapping[str, str] | None = None,
                   use_git: bool = True) -> Effective:
    """Validated settings from every layer, with each key's origin.

    ``cli`` holds (key, value, option) triples; ``cwd`` is where git config
    is read (the repository the command works on).
    """
    env = os.environ if environ is None else environ
    git_entries = read_git_config(cwd) if use_git else []
    git, git_site = git_layer(git_entries)
    site = site_file_path(config_path, env, git_site, cwd)
    layers = [Layer(DEFAULTS_NAME, default_data())]
    if site is not None:
        layers.append(Layer(str(site), read_site_file(site)))
    layers.append(git)
    layers.append(env_layer(env))
    command_line = Layer("command line")
    for key, value, option in cli:
        command_line.set(key, value, f"command line {option}")
    layers.append(command_line)

    data: dict[str, Any] = {}
    origins: dict[Key, str] = {}
    for layer in layers:
        if not layer.data:
            continue
        data = merge(data, layer.data)
        if layer.name != DEFAULTS_NAME:
            _check(data, layer)
        for key in _leaves(layer.data):
            origins[key] = _name_of(layer, key)
    settings = Settings.model_validate(data)
    return Effective(settings=settings, origins=origins, layers=layers, site_file=site)
