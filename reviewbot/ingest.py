"""Read patches from raw mails, mbox files, format-patch files, plain diffs and directories.

Every input becomes a list of :class:`PatchMail`; anything that cannot be
read becomes an :class:`InputError` for that input alone, so one bad message
never stops the others.
"""

from __future__ import annotations

import datetime
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from liblore.series import parse_patch_subject
from liblore.utils import (
    clean_header,
    get_clean_msgid,
    msg_get_author,
    msg_get_date,
    parse_message,
    split_body_parts,
    split_mbox_as_bytes,
)

from heuristics.inputs import FileChange
from reviewbot.diffs import DiffError, find_diff, parse_diff

# Limits that keep a hostile message from costing more than a normal one.
MAX_MIME_PARTS = 64
MAX_INPUT_BYTES = 256 * 1024 * 1024

_BASE_COMMIT_RE = re.compile(r"^base-commit:\s*([0-9a-fA-F]{7,64})\s*$", re.MULTILINE)
_FORMAT_PATCH_FROM_RE = re.compile(rb"^From ([0-9a-f]{40}) Mon Sep 17 00:00:00 2001", re.MULTILINE)
_STABLE_PREFIX_RE = re.compile(r"^(?:linux-|stable-|v)?(\d+\.\d+)(?:\.y|\.\d+)?$")
_HEADER_LINE_RE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_PATCH_TEXT_TYPES = frozenset({"text/plain", "text/x-patch", "text/x-diff", "text/x-csrc"})


@dataclass(frozen=True, slots=True)
class PatchMail:
    """One patch: a mail carrying a diff, or a bare diff file."""

    source: str
    subject: str
    title: str
    message_id: str | None
    author: tuple[str, str]
    date: datetime.datetime | None
    version: int
    counter: int
    expected: int
    counters_inferred: bool
    prefixes: tuple[str, ...]
    is_reply: bool
    commit_message: str
    files: tuple[FileChange, ...]
    base_commit: str | None = None
    commit: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    to: tuple[tuple[str, str], ...] = ()
    cc: tuple[tuple[str, str], ...] = ()
    list_ids: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = field(default=b"", repr=False, compare=False)
    diff: str = field(default="", repr=False, compare=False)

    @property
    def stable_version(self) -> str | None:
        """A kernel version named in the subject prefix ("[PATCH 6.1.y]", "[PATCH 5.15]")."""
        for prefix in self.prefixes:
            match = _STABLE_PREFIX_RE.match(prefix)
            if match:
                return match.group(1)
        return None


@dataclass(frozen=True, slots=True)
class CoverMail:
    """A 0/n cover letter: series metadata, not reviewed."""

    source: str
    subject: str
    message_id: str | None
    version: int
    expected: int
    base_commit: str | None
    body: str


@dataclass(frozen=True, slots=True)
class InputError:
    """An input (or one message in it) that could not be read."""

    source: str
    error: str


@dataclass(slots=True)
class Ingested:
    """Everything read from the inputs."""

    patches: list[PatchMail] = field(default_factory=list)
    covers: list[CoverMail] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def extend(self, other: Ingested) -> None:
        """Merge another result into this one."""
        self.patches.extend(other.patches)
        self.covers.extend(other.covers)
        self.errors.extend(other.errors)
        self.skipped.extend(other.skipped)


def looks_like_mail(raw: bytes) -> bool:
    """Whether raw bytes start with RFC 5322 headers."""
    head = raw.lstrip(b"\r\n")[:4096]
    first = head.split(b"\n", 1)[0]
    return bool(_HEADER_LINE_RE.match(first))


def looks_like_mbox(raw: bytes) -> bool:
    """Whether raw bytes are an mbox (first line is a "From " separator)."""
    return raw.lstrip(b"\r\n").startswith(b"From ")


def decode_text_parts(msg: EmailMessage) -> str:
    """Concatenate the decoded text parts a patch may live in (inline or attached)."""
    texts: list[str] = []
    for count, part in enumerate(msg.walk()):
        if count >= MAX_MIME_PARTS:
            break
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename() or ""
        if ctype not in _PATCH_TEXT_TYPES and not filename.endswith((".patch", ".diff")):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("utf-8", errors="replace")
        texts.append(text.replace("\r\n", "\n"))
    return "\n".join(texts)


def _addresses(msg: EmailMessage, name: str) -> tuple[tuple[str, str], ...]:
    values = [clean_header(v) for v in msg.get_all(name, [])]
    return tuple((n, a) for n, a in email.utils.getaddresses(values) if a)


def _references(msg: EmailMessage) -> tuple[str, ...]:
    raw = clean_header(msg.get("References", ""))
    return tuple(re.findall(r"<([^<>\s]+)>", raw))


def mail_from_message(msg: EmailMessage, source: str, commit: str | None = None,
                      raw: bytes = b"") -> PatchMail | CoverMail | None:
    """Turn one parsed message into a patch or cover letter (None: not a patch).

    ``raw`` is the message as read, kept so that ``git am`` can apply it later.
    """
    subject = clean_header(msg.get("Subject", ""))
    body = decode_text_parts(msg)
    parts = split_body_parts(body)
    for name, value in parts.githeaders:
        if name.lower() == "subject":
            subject = clean_header(value)
    info = parse_patch_subject(subject)
    msgid = get_clean_msgid(msg)
    base = _BASE_COMMIT_RE.search(body)
    diff_text = find_diff(body)
    if diff_text is None:
        if info.is_cover and not info.is_reply:
            return CoverMail(source, subject, msgid, info.version, info.expected,
                             base.group(1) if base else None, parts.message)
        return None
    files = tuple(parse_diff(diff_text))
    message = parts.message
    if not info.is_patch and not message:
        message = body[: body.find(diff_text)] if diff_text in body else ""
    in_reply_to = get_clean_msgid(msg, "In-Reply-To")
    list_ids = tuple(clean_header(v) for v in msg.get_all("List-Id", []))
    return PatchMail(
        source=source,
        subject=subject,
        title=info.title,
        message_id=msgid,
        author=msg_get_author(msg, use_inbody=True),
        date=msg_get_date(msg),
        version=info.version,
        counter=info.counter,
        expected=info.expected,
        counters_inferred=info.counters_inferred,
        prefixes=info.prefixes,
        is_reply=info.is_reply,
        commit_message=message,
        files=files,
        base_commit=base.group(1) if base else None,
        commit=commit,
        in_reply_to=in_reply_to,
        references=_references(msg),
        to=_addresses(msg, "To"),
        cc=_addresses(msg, "Cc"),
        list_ids=list_ids,
        raw=raw,
        diff=diff_text,
    )


def mail_from_diff(text: str, source: str) -> PatchMail:
    """A bare unified diff (no mail headers) as a patch."""
    diff_text = find_diff(text)
    if diff_text is None:
        raise DiffError("no unified diff found")
    files = tuple(parse_diff(diff_text))
    preamble = text[: text.find(diff_text)].strip()
    return PatchMail(
        source=source, subject=Path(source).name, title=Path(source).name, message_id=None,
        author=("", ""), date=None, version=1, counter=1, expected=1, counters_inferred=True,
        prefixes=(), is_reply=False, commit_message=preamble, files=files, diff=diff_text,
    )


def read_bytes(raw: bytes, source: str) -> Ingested:
    """Read one input given as bytes."""
    out = Ingested()
    if len(raw) > MAX_INPUT_BYTES:
        out.errors.append(InputError(source, f"input is larger than {MAX_INPUT_BYTES} bytes"))
        return out
    if b"\x00" in raw[:8192] and not looks_like_mbox(raw):
        out.errors.append(InputError(source, "binary data, not a patch or mail"))
        return out
    if looks_like_mbox(raw):
        chunks = split_mbox_as_bytes(raw)
        commits = [m.group(1).decode() for m in _FORMAT_PATCH_FROM_RE.finditer(raw)]
        commit_iter = iter(commits) if len(commits) == len(chunks) else iter(())
        for index, chunk in enumerate(chunks, start=1):
            label = f"{source}#{index}" if len(chunks) > 1 else source
            _read_message(chunk, label, out, next(commit_iter, None))
        if not chunks:
            out.errors.append(InputError(source, "empty mbox"))
        return out
    if looks_like_mail(raw):
        _read_message(raw, source, out, None)
        return out
    text = raw.decode("utf-8", errors="replace")
    try:
        out.patches.append(mail_from_diff(text, source))
    except DiffError as exc:
        out.errors.append(InputError(source, f"not a mail, mbox or diff ({exc})"))
    return out


def _read_message(raw: bytes, source: str, out: Ingested, commit: str | None) -> None:
    try:
        msg = parse_message(raw)
        if not msg.keys():
            raise DiffError("message has no headers")
        result = mail_from_message(msg, source, commit, raw)
    except (DiffError, ValueError, LookupError, UnicodeError) as exc:
        out.errors.append(InputError(source, str(exc) or type(exc).__name__))
        return
    if result is None:
        out.skipped.append(source)
    elif isinstance(result, CoverMail):
        out.covers.append(result)
    else:
        out.patches.append(result)


def iter_input_files(paths: Iterable[str]) -> Iterable[Path]:
    """Expand directories (sorted, recursive, hidden files skipped)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts):
                    yield child
        else:
            yield path


def read_paths(paths: Iterable[str], stdin: bytes | None = None) -> Ingested:
    """Read every input; ``-`` means ``stdin``."""
    out = Ingested()
    for path in iter_input_files(paths):
        if str(path) == "-":
            out.extend(read_bytes(stdin or b"", "<stdin>"))
            continue
        try:
            raw = path.read_bytes()
        except OSError as exc:
            out.errors.append(InputError(str(path), exc.strerror or str(exc)))
            continue
        out.extend(read_bytes(raw, str(path)))
    return out
