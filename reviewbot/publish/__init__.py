"""Where replies and checks go: SMTP, an outbox directory, stdout (dry run), patchwork."""

from __future__ import annotations

from typing import Protocol


class SendError(Exception):
    """A reply was not delivered; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    """Delivers one rendered reply."""

    name: str
    final_status: str

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        """Deliver ``raw``; raise :class:`SendError` when it was not delivered."""

    def close(self) -> None:
        """Release connections."""
