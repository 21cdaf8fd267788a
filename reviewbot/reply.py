"""Render a review reply: LKML-style plain text under the quoted hunk, and safe headers.

The wording lives in plain-text templates (config/templates/*.txt, ``$name``
placeholders only). Headers are built with the :mod:`email` package from
cleaned values: a hostile subject, name or Message-ID can never add a header.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from importlib import resources
from pathlib import Path

from reviewbot import __version__
from reviewbot.botconfig import BotIdentity, MailSettings
from reviewbot.ingest import PatchMail
from reviewbot.quoting import Quoter, fit, wrap

Addr = tuple[str, str]

PLACEHOLDERS: dict[str, frozenset[str]] = {
    "reply": frozenset({"attribution", "review", "fixed", "footer"}),
    "footer": frozenset({"bot_name", "rule_docs", "example_rule", "contact"}),
    "attribution": frozenset({"date", "author"}),
    "commit": frozenset({"commit", "summary", "ref", "author"}),
    "fixed": frozenset({"previous_version", "fixed_list"}),
}
_MSGID_RE = re.compile(r"^[!-;=?-~]{1,250}$")  # printable ASCII without < > and spaces
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
MAX_REFERENCES = 20


class TemplateError(ValueError):
    """A reply template is missing or uses an unknown placeholder."""


def clean_text(value: str, limit: int = 400) -> str:
    """One line of untrusted text: control characters and newlines become spaces."""
    value = _CONTROL_RE.sub(" ", value)
    value = " ".join(value.split())
    return value[:limit]


def safe_msgid(value: str | None) -> str | None:
    """A Message-ID (without <>) that is safe to put in a header, else None."""
    if value and _MSGID_RE.match(value):
        return value
    return None


def display_date(header: str | None) -> str | None:
    """A Date header as "Mon, 2 Nov 2026 10:00:02 +0000" (None when unreadable)."""
    if not header:
        return None
    try:
        when = email.utils.parsedate_to_datetime(clean_text(header, 100))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return email.utils.format_datetime(when) if when is not None else None


def reply_message_id(key: str, bot: BotIdentity) -> str:
    """The reply's Message-ID: a hash of what it answers and who the bot is."""
    digest = hashlib.sha256(f"{bot.address.lower()}\0{key}".encode(
        "utf-8", "surrogateescape")).hexdigest()[:32]
    return f"reviewbot.{digest}@{bot.domain}"


@dataclass(frozen=True, slots=True)
class Templates:
    """The reply templates, checked for unknown placeholders."""

    texts: dict[str, str]

    @classmethod
    def load(cls, template_dir: str = "") -> Templates:
        """The shipped templates, each overridable by a file in ``template_dir``."""
        texts: dict[str, str] = {}
        shipped = resources.files("reviewbot_config").joinpath("templates")
        for name, allowed in PLACEHOLDERS.items():
            custom = Path(template_dir) / f"{name}.txt" if template_dir else None
            try:
                if custom is not None and custom.is_file():
                    text = custom.read_text(encoding="utf-8")
                else:
                    text = shipped.joinpath(f"{name}.txt").read_text(encoding="utf-8")
            except OSError as exc:
                raise TemplateError(f"template {name}.txt: {exc}") from exc
            template = string.Template(text)
            if not template.is_valid():
                raise TemplateError(f"template {name}.txt: bad $ placeholder")
            unknown = set(template.get_identifiers()) - allowed
            if unknown:
                raise TemplateError(f"template {name}.txt: unknown placeholder(s) "
                                    f"{', '.join(sorted(unknown))}")
            texts[name] = text
        return cls(texts)

    def fill(self, name: str, **values: str) -> str:
        """A template with its placeholders filled (missing ones become empty)."""
        wanted = {k: values.get(k, "") for k in PLACEHOLDERS[name]}
        return string.Template(self.texts[name]).substitute(wanted).rstrip("\n")


@dataclass(frozen=True, slots=True)
class MailFinding:
    """A finding as a reply shows it."""

    rule: str
    name: str
    severity: str
    file: str
    line: int
    function: str | None
    message: str
    snippet: str
    docs_url: str
    still_present: bool = False


@dataclass(frozen=True, slots=True)
class FixedFinding:
    """A finding of the previous version that this one no longer has."""

    rule: str
    file: str
    function: str | None


@dataclass(slots=True)
class Draft:
    """Everything one reply says and whom it goes to."""

    patch: PatchMail
    message_id: str
    to: Addr
    cc: tuple[Addr, ...] = ()
    findings: list[MailFinding] = field(default_factory=list)
    fixed: list[FixedFinding] = field(default_factory=list)
    previous_version: int | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    commit_ref: str | None = None
    date: str | None = None
    quotes: dict[int, list[str]] = field(default_factory=dict)


def _sentence(text: str) -> str:
    text = text.strip()
    first = text.split(" ", 1)[0] if text else ""
    if first.isalpha() and first.islower():
        text = text[0].upper() + text[1:]
    if text and text[-1] not in ".?!":
        text += "."
    return text


def _author(name: str, address: str) -> str:
    name = clean_text(name, 120)
    return f"{name} <{address}>" if name else address


def _order(draft: Draft, count: int) -> list[int]:
    paths = [c.path for c in draft.patch.files]

    def position(index: int) -> tuple[int, int]:
        f = draft.findings[index]
        return (paths.index(f.file) if f.file in paths else len(paths), f.line)

    return sorted(range(count), key=position)


def quote_findings(draft: Draft, mail: MailSettings) -> None:
    """Fill ``draft.quotes`` (index in ``draft.findings`` -> quoted lines), in file order."""
    quoter = Quoter(draft.patch.files, mail.quote_context, mail.width)
    shown = min(len(draft.findings), mail.max_findings_per_reply)
    for index in _order(draft, shown):
        f = draft.findings[index]
        draft.quotes[index] = quoter.quote(f.file, f.line, f.message, f.snippet)


def render_body(draft: Draft, bot: BotIdentity, mail: MailSettings,
                templates: Templates) -> str:
    """The plain-text body: attribution, quotes with comments, fixed list, footer."""
    width = mail.width
    patch = draft.patch
    if not draft.quotes:
        quote_findings(draft, mail)
    if draft.commit_ref is not None:
        attribution = templates.fill(
            "commit", commit=(patch.commit or "")[:12], summary=clean_text(patch.title, 200),
            ref=clean_text(draft.commit_ref, 100), author=_author(*patch.author))
    else:
        when = display_date(draft.date) or (
            email.utils.format_datetime(patch.date) if patch.date else "an unknown date")
        attribution = templates.fill("attribution", date=when, author=_author(*patch.author))
    review: list[str] = []
    for index in _order(draft, min(len(draft.findings), mail.max_findings_per_reply)):
        f = draft.findings[index]
        lines = draft.quotes.get(index, [])
        if lines:
            review.extend(lines)
            review.append("")
        prefix = f"Still here from v{draft.previous_version}: " if (
            f.still_present and draft.previous_version) else ""
        tag = f"({f.rule},\x00{f.severity})"  # kept on one line by wrap()
        comment = _sentence(prefix + f.message) + " " + tag
        review.extend(line.replace("\x00", " ") for line in wrap(comment, width))
        review.append("")
    rest = draft.findings[mail.max_findings_per_reply:]
    if rest:
        ids = ", ".join(sorted({f.rule for f in rest}))
        review.extend(wrap(f"{len(rest)} more finding(s) not quoted here ({ids}); "
                           f"run reviewbot check on this patch to see them all.", width))
        review.append("")
    fixed = ""
    if draft.fixed:
        items = []
        for item in draft.fixed:
            where = f"{item.function}() in {item.file}" if item.function else item.file
            items.extend(wrap(f"- {item.rule} in {where}", width))
        fixed = templates.fill("fixed", previous_version=str(draft.previous_version or 1),
                               fixed_list="\n".join(items))
    rules = sorted({f.rule: f.docs_url for f in draft.findings}.items())
    docs = []
    for rule_id, url in rules:
        line = f"  {rule_id}: {url}"
        docs.extend([line] if len(line) <= width else [f"  {rule_id}:", f"    {url}"])
    example = rules[0][0] if rules else (draft.fixed[0].rule if draft.fixed else "RULE-ID")
    contact = f" Questions: {clean_text(bot.contact, 200)}." if bot.contact else ""
    footer = templates.fill("footer", bot_name=clean_text(bot.name, 80),
                            rule_docs="\n".join(docs), example_rule=example, contact=contact)
    footer_lines: list[str] = []
    for line in footer.split("\n"):
        footer_lines.extend([line] if len(line) <= width else wrap(line, width))
    body = templates.fill("reply", attribution="\n".join(wrap(attribution, width)),
                          review="\n".join(review).rstrip("\n"), fixed=fixed,
                          footer="\n".join(footer_lines))
    out: list[str] = []
    for line in body.split("\n"):
        line = "-- " if line.rstrip() == "--" else line.rstrip()
        if line == "" and out and out[-1] == "":
            continue
        out.append(line if line.startswith(">") or len(line) <= width else fit(line, width))
    return "\n".join(out).strip("\n") + "\n"


def _address(pair: Addr) -> Address | None:
    name, addr = clean_text(pair[0], 120), clean_text(pair[1], 254)
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError, TypeError):
        return None


def reply_subject(draft: Draft) -> str:
    """``Re: <subject>`` (one ``Re:``), or a new subject for a commit without a thread."""
    if draft.commit_ref is not None and draft.in_reply_to is None:
        return clean_text(f"[reviewbot] {draft.commit_ref} {(draft.patch.commit or '')[:12]}: "
                          f"{draft.patch.title}", 300)
    subject = clean_text(draft.patch.subject, 300)
    subject = re.sub(r"^(?:(?:re|aw|sv)\s*:\s*)+", "", subject, flags=re.IGNORECASE)
    return f"Re: {subject}"


def build_message(draft: Draft, body: str, bot: BotIdentity, now: datetime) -> EmailMessage:
    """The reply as a message; raises ValueError when there is nobody valid to send to."""
    to = _address(draft.to)
    if to is None:
        raise ValueError(f"invalid author address {clean_text(draft.to[1], 80)!r}")
    msg = EmailMessage()
    sender = _address((bot.name, bot.address))
    assert sender is not None  # type narrowing  # nosec B101
    msg["From"] = sender
    msg["To"] = to
    cc = [a for a in (_address(p) for p in draft.cc) if a is not None]
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = reply_subject(draft)
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = f"<{draft.message_id}>"
    parent = safe_msgid(draft.in_reply_to)
    if parent is not None:
        msg["In-Reply-To"] = f"<{parent}>"
        refs = _references(draft.references, parent)
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = f"reviewbot {__version__}"
    msg.set_content(body)
    return msg


def _references(refs: Sequence[str], parent: str) -> list[str]:
    out: list[str] = []
    for ref in [*refs, parent]:
        ref_ok = safe_msgid(ref)
        if ref_ok is not None and ref_ok not in out:
            out.append(ref_ok)
    if len(out) > MAX_REFERENCES:
        out = [out[0], *out[-(MAX_REFERENCES - 1):]]
    return out


def recipients(msg: EmailMessage) -> list[str]:
    """Envelope recipients: every To and Cc address."""
    values = [str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])]
    return [a for _, a in email.utils.getaddresses(values) if a]
