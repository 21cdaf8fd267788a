"""The reply: wording, quoting, width, headers built safely from hostile input."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reviewbot.botconfig import BotIdentity, MailSettings
from reviewbot.config import load_settings
from reviewbot.ingest import PatchMail, read_bytes
from reviewbot.quoting import fit
from reviewbot.reply import (
    Draft,
    MailFinding,
    TemplateError,
    Templates,
    build_message,
    render_body,
    reply_message_id,
    safe_msgid,
)
from tests.listbot import mails

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FINDING = MailFinding(
    rule="MEMALLOC-001", name="save-without-restore-on-path", severity="error",
    file="fs/foofs/dir.c", line=67, function="foofs_add_entry",
    message="this path returns from foofs_add_entry() with PF_MEMALLOC_NOFS still set by "
            "memalloc_nofs_save() at line 64; restore nofs before returning",
    snippet="return -ENOMEM;", docs_url="https://reviewbot.invalid/rules/MEMALLOC-001")


def _patch(raw: bytes | None = None) -> PatchMail:
    got = read_bytes(raw or mails.series("r1")[2], "test")
    assert got.patches, got.errors
    return got.patches[0]


def _draft(patch: PatchMail, **kw: object) -> Draft:
    base: dict[str, object] = dict(
        patch=patch, message_id=reply_message_id(patch.message_id or "", BotIdentity()),
        to=patch.author, cc=(("", mails.LIST),), findings=[FINDING],
        in_reply_to=patch.message_id, references=patch.references)
    base.update(kw)
    return Draft(**base)  # type: ignore[arg-type]


def _render(draft: Draft, mail: MailSettings | None = None) -> str:
    mail = mail or MailSettings()
    return render_body(draft, BotIdentity(), mail, Templates.load(mail.template_dir))


def test_body_quotes_the_hunk_and_comments_under_it() -> None:
    body = _render(_draft(_patch()))
    lines = body.splitlines()
    assert lines[0].startswith("On ") and lines[0].endswith("wrote:")
    quote_end = lines.index(">  \t\treturn -ENOMEM;") if ">  \t\treturn -ENOMEM;" in lines \
        else lines.index("> +\t\treturn -ENOMEM;")
    assert lines[quote_end + 1] == ""
    assert lines[quote_end + 2].startswith("This path returns from foofs_add_entry()")
    # "at line 64" pulls the save into the quote, with the skipped lines trimmed.
    assert "> +\tnofs = memalloc_nofs_save();" in lines
    assert "[ ... ]" in lines
    assert all(len(line.expandtabs(8)) <= 78 for line in lines)


def test_long_lines_are_wrapped_or_cut_to_78_columns() -> None:
    long_msg = ("a very long comment " * 30).strip()
    draft = _draft(_patch(), findings=[dataclasses.replace(FINDING, message=long_msg)])
    body = _render(draft)
    assert all(len(line.expandtabs(8)) <= 78 for line in body.splitlines())
    assert fit("+\t" + "x" * 200, 78).endswith(" [...]")
    assert len(fit("+\t" + "x" * 200, 78).expandtabs(8)) <= 78


def test_more_findings_than_the_limit_are_counted_not_quoted() -> None:
    many = [FINDING] * 3
    body = _render(_draft(_patch(), findings=many), MailSettings(max_findings_per_reply=1))
    assert body.count("(MEMALLOC-001, error)") == 1
    assert "2 more finding(s) not quoted here (MEMALLOC-001)" in body


def _headers(raw: bytes) -> list[str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return [k.lower() for k, _ in msg.items()]


def test_hostile_subject_name_and_message_ids_cannot_add_headers() -> None:
    raw = mails.mail(
        mid="evil@example.org",
        subject="=?utf-8?q?[PATCH]_foofs:_x=0D=0ABcc:_victim@example.org?=",
        body="msg\n---\n" + mails.diff_scope("foofs", fixed=False))
    patch = _patch(raw)
    draft = _draft(patch, to=("Mallory\r\nBcc: victim@example.org", "mallory@example.org"),
                   cc=(("Eve\nX-Injected: 1", "list@example.org"), ("", "not an address")),
                   in_reply_to="evil@example.org>\r\nBcc: victim@example.org",
                   references=("ok@example.org", "bad>\nX-Injected: 1", "also ok@x"))
    msg = build_message(draft, _render(draft), BotIdentity(), NOW)
    data = msg.as_bytes()
    names = _headers(data)
    assert "bcc" not in names and "x-injected" not in names
    assert sorted(set(names)) == sorted({
        "from", "to", "cc", "subject", "date", "message-id", "auto-submitted", "x-mailer",
        "content-type", "content-transfer-encoding", "mime-version"})
    assert b"victim" not in data.split(b"\n\n", 1)[0].replace(b"Bcc: victim", b"")
    subject = email.message_from_bytes(data, policy=email.policy.default)["Subject"]
    assert "\n" not in str(subject) and str(subject).startswith("Re: [PATCH] foofs: x")


def test_safe_msgid_and_references() -> None:
    assert safe_msgid("a.b@c") == "a.b@c"
    for bad in ("a b@c", "a<b@c", "x\n@y", "", None, "x" * 300):
        assert safe_msgid(bad) is None
    draft = _draft(_patch(), references=tuple(f"r{i}@x" for i in range(40)))
    msg = build_message(draft, "body\n", BotIdentity(), NOW)
    refs = str(msg["References"]).split()
    assert len(refs) == 20 and refs[0] == "<r0@x>" and refs[-1] == f"<{draft.in_reply_to}>"


def test_reply_message_id_is_deterministic_per_bot() -> None:
    one = reply_message_id("patch@x", BotIdentity(address="bot@a.example"))
    assert one == reply_message_id("patch@x", BotIdentity(address="bot@a.example"))
    assert one.endswith("@a.example")
    assert one != reply_message_id("patch@x", BotIdentity(address="other@a.example"))
    assert one != reply_message_id("patch2@x", BotIdentity(address="bot@a.example"))
    assert reply_message_id("p@x", BotIdentity(msgid_domain="m.example")).endswith(
        "@m.example")


def test_templates_can_be_overridden_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "footer.txt").write_text("Bot $bot_name here.\n$rule_docs\n")
    body = _render(_draft(_patch()), MailSettings(template_dir=str(tmp_path)))
    assert "Bot reviewbot here." in body and "false-positive" not in body
    (tmp_path / "footer.txt").write_text("Hello $shell_command\n")
    with pytest.raises(TemplateError, match="unknown placeholder"):
        Templates.load(str(tmp_path))


def test_default_settings_load_templates() -> None:
    settings = load_settings()
    assert Templates.load(settings.mail.template_dir).texts["reply"]
