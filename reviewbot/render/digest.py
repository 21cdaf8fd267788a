"""Render a digest (reviewbot.summary) as plain text, Markdown, or a mail from the bot.

Untrusted text (subjects, names, messages) is reduced to one line without
control characters; in Markdown every special character is escaped.
"""

from __future__ import annotations

import email.utils
import re
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage

from reviewbot import __version__
from reviewbot.botconfig import BotIdentity
from reviewbot.dashboard.data import Finding
from reviewbot.dashboard.links import archive_url, rule_page, series_page, when
from reviewbot.dashboard.scopes import Scope
from reviewbot.dashboard.settings import DashboardSettings
from reviewbot.dashboard.stats import SEVERITIES, Totals
from reviewbot.reply import clean_text
from reviewbot.summary import Digest


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _severities(t: Totals) -> str:
    parts = [f"{t.by_severity.get(s, 0)} {s}" for s in SEVERITIES if t.by_severity.get(s)]
    return f" ({', '.join(parts)})" if parts else ""


def _period(d: Digest) -> str:
    days = (d.end - d.start) / 86400
    span = f"{days:.0f} days" if days >= 1.5 else f"{days * 24:.0f} hours"
    return f"{when(d.start)} to {when(d.end)} ({span})"


def _summary_lines(d: Digest) -> list[str]:
    t = d.totals
    lines = [f"Reviewed {_plural(t.reviewed, 'series', 'series')} "
             f"({_plural(t.patches, 'patch', 'patches')}): "
             f"{_plural(t.findings, 'finding')}{_severities(t)}.",
             f"Mailed {_plural(t.mailed, 'finding')} in {_plural(t.replies, 'reply', 'replies')}; "
             f"{_plural(t.false_positive_reports, 'false-positive report')}; "
             f"{d.fixed} fixed in a later version."]
    if d.changes is None:
        lines.append("First digest for this scope.")
    else:
        c = d.changes
        lines.append(f"Since the last digest ({when(c.since)}): "
                     f"{_plural(c.series, 'new series', 'new series')}, "
                     f"{_plural(c.findings, 'new finding')}, {c.fixed} fixed, "
                     f"{_plural(c.false_positive_reports, 'false-positive report')}.")
    return lines


@dataclass(frozen=True, slots=True)
class Linker:
    """Builds the links a digest shows."""

    settings: DashboardSettings
    docs_url: str

    def archive(self, msgid: str) -> str:
        """The archive URL of a message."""
        return archive_url(self.settings.archive_url, msgid)

    def docs(self, rule: str) -> str:
        """The rule's documentation: the dashboard's page when published, else docs_url."""
        if self.settings.base_url:
            return self.settings.base_url + rule_page(rule)
        return self.docs_url.replace("{rule}", rule)

    def finding(self, f: Finding) -> str | None:
        """The finding on the dashboard (when published)."""
        if not self.settings.base_url:
            return None
        return f"{self.settings.base_url}{series_page(f.series_id)}#f{f.id}"

    def scope(self, scope: Scope) -> str | None:
        """The scope's dashboard page (when published)."""
        base = self.settings.base_url
        if not base:
            return None
        if scope.kind == "all":
            return f"{base}index.html"
        folder = {"list": "lists", "subsystem": "subsystems", "maintainer": "maintainers"}
        return f"{base}{folder[scope.kind]}/{scope.slug}.html"


def _where(f: Finding) -> str:
    where = f"{clean_text(f.file, 200)}:{f.line}"
    return where + (f" in {clean_text(f.function, 100)}()" if f.function else "")


def _author(d: Digest, f: Finding) -> str:
    s = d.series.get(f.series_id)
    return clean_text(s.author_name or s.author_email, 100) if s else ""


def render_text(d: Digest, link: Linker) -> str:
    """Plain text (also the mail body)."""
    lines = [f"reviewbot digest: {clean_text(d.label, 200)}", _period(d), ""]
    for line in _summary_lines(d):
        lines += textwrap.wrap(line, 76, break_on_hyphens=False)
    if d.top:
        lines += ["", "Top findings:"]
        for n, f in enumerate(d.top, start=1):
            lines.append(f"{n:2d}. [{f.severity}] {f.rule} {_where(f)}")
            lines += textwrap.wrap(clean_text(f.message, 400), 74, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False)
            lines += textwrap.wrap(f"{clean_text(f.patch_subject, 200)} ({_author(d, f)})", 74,
                                   initial_indent="    ", subsequent_indent="    ",
                                   break_on_hyphens=False)
            lines.append(f"    {link.archive(f.msgid)}")
            lines.append(f"    rule: {link.docs(f.rule)}")
            page = link.finding(f)
            if page:
                lines.append(f"    dashboard: {page}")
    else:
        lines += ["", "No findings in this period."]
    if d.noisy:
        lines += ["", "False-positive reports: " + ", ".join(
            f"{rule} ({n})" for rule, n in d.noisy) + "."]
    page = link.scope(d.scope)
    if page:
        lines += ["", f"Dashboard: {page}"]
    return "\n".join(lines) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~&])")


def md(text: str, limit: int = 300) -> str:
    """Untrusted text as literal Markdown (every special character escaped)."""
    return _MD_SPECIAL.sub(r"\\\1", clean_text(text, limit))


def _code(text: str) -> str:
    return "`" + clean_text(text, 200).replace("`", "'") + "`"


def render_markdown(d: Digest, link: Linker) -> str:
    """Markdown (for a chat or an issue tracker); untrusted text is escaped."""
    lines = [f"# reviewbot digest: {md(d.label)}", "", f"*{_period(d)}*", ""]
    lines += [f"- {line}" for line in _summary_lines(d)]
    lines.append("")
    if d.top:
        lines += ["## Top findings", ""]
        for n, f in enumerate(d.top, start=1):
            where = _code(f"{f.file}:{f.line}") + (f" in {_code(f.function + '()')}"
                                                  if f.function else "")
            lines.append(f"{n}. **{f.severity}** [{f.rule}]({link.docs(f.rule)}) {where}: "
                         f"{md(f.message, 240)}  ")
            extra = f" · [on the dashboard]({link.finding(f)})" if link.finding(f) else ""
            lines.append(f"   [{md(f.patch_subject, 200)}]({link.archive(f.msgid)}) "
                         f"by {md(_author(d, f), 100)}{extra}")
    else:
        lines.append("No findings in this period.")
    if d.noisy:
        lines += ["", "False-positive reports: " + ", ".join(
            f"{_code(rule)} ({n})" for rule, n in d.noisy) + "."]
    page = link.scope(d.scope)
    if page:
        lines += ["", f"[Dashboard]({page})"]
    return "\n".join(lines) + "\n"


def subject(d: Digest) -> str:
    """The digest mail's subject."""
    t = d.totals
    return clean_text(f"[reviewbot digest] {d.label}: {_plural(t.findings, 'finding')} in "
                      f"{_plural(t.reviewed, 'series', 'series')}, "
                      f"{datetime.fromtimestamp(d.start, UTC):%Y-%m-%d} to "
                      f"{datetime.fromtimestamp(d.end, UTC):%Y-%m-%d}", 300)


def build_mail(d: Digest, body: str, bot: BotIdentity, to: Sequence[str],
               now: float | None = None) -> EmailMessage:
    """The digest as a mail from the bot (headers built by the email package)."""
    msg = EmailMessage()
    msg["From"] = Address(clean_text(bot.name, 120), addr_spec=bot.address)
    msg["To"] = [Address(addr_spec=a) for a in to]
    msg["Subject"] = subject(d)
    msg["Date"] = email.utils.formatdate(now if now is not None else time.time())
    msg["Message-ID"] = email.utils.make_msgid("reviewbot-digest", domain=bot.domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = f"reviewbot {__version__}"
    msg.set_content(body)
    return msg
