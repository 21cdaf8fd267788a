"""Test defaults: no network beyond loopback, private temp home/XDG dirs, quiet git,
no reviewbot settings from the caller's environment."""

from __future__ import annotations

import ipaddress
import os
import resource
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise OSError(f"test tried to reach {host}: tests only use 127.0.0.1")
        except ValueError as exc:
            if host != "localhost":
                raise OSError(f"test tried to resolve {host}: tests only use 127.0.0.1") from exc
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test: loopback-only sockets, its own HOME/XDG dirs and git identity."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    home = tmp_path / "home"
    home.mkdir()
    for var, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_STATE_HOME", ".local/state")):
        path = home / sub if sub else home
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "author@example.org")
    for var in ("REVIEWBOT_CONFIG", "REVIEWBOT_SMTP_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith(("REVIEWBOT_", "GIT_SENDEMAIL_"))]:
        monkeypatch.delenv(var)  # settings and hook state from the caller's environment
    data_limit = resource.getrlimit(resource.RLIMIT_DATA)
    yield
    # An in-process `watch` caps the data segment ([limits] max_memory_mb): undo it.
    resource.setrlimit(resource.RLIMIT_DATA, data_limit)
