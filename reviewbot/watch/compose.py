"""Turn a reply draft into the stored outbox form and back (JSON), and render it."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime

from reviewbot.config import Settings
from reviewbot.ingest import PatchMail
from reviewbot.reply import (
    Draft,
    FixedFinding,
    MailFinding,
    Templates,
    build_message,
    recipients,
    render_body,
    reply_subject,
)


def draft_to_json(draft: Draft, patch_key: str) -> str:
    """Everything but the patch itself (referenced by ``patch_key``)."""
    return json.dumps({
        "patch": patch_key,
        "message_id": draft.message_id,
        "to": list(draft.to),
        "cc": [list(c) for c in draft.cc],
        "findings": [asdict(f) for f in draft.findings],
        "fixed": [asdict(f) for f in draft.fixed],
        "previous_version": draft.previous_version,
        "in_reply_to": draft.in_reply_to,
        "references": list(draft.references),
        "commit_ref": draft.commit_ref,
        "date": draft.date,
    }, sort_keys=True)


def draft_patch_key(text: str) -> str:
    """The key of the patch a stored draft answers."""
    return str(json.loads(text)["patch"])


def draft_from_json(text: str, patch: PatchMail) -> Draft:
    """A stored draft with its patch attached again."""
    data = json.loads(text)
    return Draft(
        patch=patch,
        message_id=data["message_id"],
        to=(data["to"][0], data["to"][1]),
        cc=tuple((c[0], c[1]) for c in data["cc"]),
        findings=[MailFinding(**f) for f in data["findings"]],
        fixed=[FixedFinding(**f) for f in data["fixed"]],
        previous_version=data["previous_version"],
        in_reply_to=data["in_reply_to"],
        references=tuple(data["references"]),
        commit_ref=data["commit_ref"],
        date=data.get("date"),
    )


def render(draft: Draft, settings: Settings, templates: Templates,
           now: datetime | None = None) -> tuple[bytes, str, list[str]]:
    """(raw mail, subject, envelope recipients)."""
    body = render_body(draft, settings.bot, settings.mail, templates)
    msg = build_message(draft, body, settings.bot, now or datetime.now(UTC))
    return msg.as_bytes(), reply_subject(draft), recipients(msg)
