"""Replies as .eml files in a directory (``--outbox-dir``), or on stdout (``--dry-run``)."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import TextIO

from reviewbot.publish import SendError


def eml_name(message_id: str) -> str:
    """A file name derived from the Message-ID (never the Message-ID itself)."""
    return "reviewbot-" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[
        :32] + ".eml"


class OutboxDir:
    """Writes each reply to ``DIR/reviewbot-<hash>.eml`` (atomically)."""

    name = "outbox-dir"
    final_status = "sent"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        """Write the file; the name depends only on the Message-ID, so a retry overwrites."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self.directory / eml_name(message_id)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise SendError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Nothing to release."""


class DryRun:
    """Prints each reply to stdout instead of sending it (recorded as ``dry-run``)."""

    name = "dry-run"
    final_status = "dry-run"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        """Write the mail, then a separator."""
        out = self.stream or sys.stdout
        out.write(f"From {sender} Thu Jan  1 00:00:00 1970\n")
        out.write(raw.decode("utf-8", "replace").replace("\r\n", "\n"))
        out.write("\n")
        out.flush()

    def close(self) -> None:
        """Nothing to release."""
