"""Read patches from raw mails, mbox files, format-patch files, plain diffs and directories.

Every input becomes a list of :class:`PatchMail`; anything that cannot be
read becomes an :class:`InputError` for that input alone, so one bad message
never stops the others.
"""

from __future__ import annotations

import datetime
import email
import email.errors
import email.policy
import email.utils
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path
from typing import BinaryIO

from liblore.series import PatchSubject, parse_patch_subject
from liblore.utils import (
    clean_header,
    get_clean_msgid,
    msg_get_date,
    parse_message,
    split_body_parts,
    split_mbox_as_bytes,
)

from heuristics.inputs import FileChange
from reviewbot.config import LimitsSettings
from reviewbot.diffs import DiffError, find_diff, parse_diff

# Limits that keep a hostile message from costing more than a normal one
# (the per-message ones are settings: [limits] in config/default.toml).
MAX_MIME_PARTS = 64          # text parts decoded per message
MAX_MIME_TOTAL = 256         # parts of any kind: a message with more is not parsed
MAX_MIME_DEPTH = 16          # nesting of multipart and message/rfc822 parts
MAX_INPUT_BYTES = 256 * 1024 * 1024  # one input file (an mbox is read message by message)

# What reading one hostile message can raise: the email package parses headers
# lazily and has a zoo of failure modes (AttributeError on odd address groups,
# IndexError, TypeError, HeaderParseError, OverflowError on a Date in the year
# 10**12, UnboundLocalError in the Message-ID parser on "<a@[ x\x03"); deep
# nesting recurses.
MAIL_ERRORS: tuple[type[Exception], ...] = (
    ValueError, LookupError, UnicodeError, TypeError, AttributeError, IndexError,
    ArithmeticError, RecursionError, UnboundLocalError, email.errors.MessageError)

_MBOX_FROM_RE = re.compile(rb"^From \S+.*\d\d:\d\d:\d\d.*\d{4}")  # git's is_from_line()
_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]*\?[^?\s]*\?.*?\?=")
_NAME_ADDR_RE = re.compile(r'[^<>]*<([^<>\s@,;:"]+@[^<>\s@,;:"]+)>\s*')
_NESTED_TYPE_RE = re.compile(rb"^content-type:\s*(?:multipart|message)/",
                             re.IGNORECASE | re.MULTILINE)

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


class MailError(ValueError):
    """A message that cannot be read safely (too deeply nested, too many parts)."""


class LimitError(ValueError):
    """A message over a [limits] setting: skipped with this reason, not reviewed."""


def _check_mime_shape(raw: bytes) -> None:
    """Refuse MIME bombs before the (slow, recursive) full parse.

    Only a message whose top-level type is multipart/* or message/* can nest;
    it is first parsed with the cheap compat32 policy and its parts counted
    without recursion.
    """
    end = raw.find(b"\n\n")
    head = raw[: end if end >= 0 else len(raw)]
    if not _NESTED_TYPE_RE.search(head):
        return
    try:
        rough = email.message_from_bytes(raw, policy=email.policy.compat32)
    except RecursionError as exc:
        raise MailError(f"MIME parts nested deeper than {MAX_MIME_DEPTH}") from exc
    stack: list[tuple[Message, int]] = [(rough, 0)]
    parts = 0
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > MAX_MIME_DEPTH:
            raise MailError(f"MIME parts nested deeper than {MAX_MIME_DEPTH}")
        if parts > MAX_MIME_TOTAL:
            raise MailError(f"more than {MAX_MIME_TOTAL} MIME parts")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))


def read_message(raw: bytes) -> EmailMessage:
    """Parse one raw message; MailError for a MIME bomb (MAIL_ERRORS for other damage)."""
    _check_mime_shape(raw)
    return parse_message(raw)


def clean_str(value: str) -> str:
    """Text without lone surrogates or NULs: raw 8-bit header bytes become their UTF-8
    reading (U+FFFD where they are not UTF-8) and a NUL becomes U+FFFD, so the value can
    be stored, printed, mailed and passed to git (an argument cannot hold a NUL)."""
    try:
        text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = value.encode("utf-8", "replace").decode("utf-8", "replace")
    return text.replace("\x00", "\ufffd")


def _decoded(value: str) -> str:
    try:
        return clean_header(value)
    except MAIL_ERRORS:  # a broken encoded-word: keep the raw text, encoded words defused
        return " ".join(value.replace("=?", "= ?").split())


def subject_info(subject: str) -> PatchSubject:
    """liblore's reading of a subject ([PATCH v2 3/5] ...), also for broken encoded words."""
    try:
        return parse_patch_subject(subject)
    except MAIL_ERRORS:
        return parse_patch_subject(subject.replace("=?", "= ?"))


def header_values(msg: EmailMessage, name: str) -> list[str]:
    """Every value of header ``name``, decoded, without the email package's header parser.

    The parsed header objects fail on some hostile values (an address group
    with a ``;`` inside an angle address raises AttributeError); the raw
    values never do.
    """
    wanted = name.lower()
    return [clean_str(_decoded(str(value))) for key, value in msg.raw_items()
            if key.lower() == wanted]


def header_value(msg: EmailMessage, name: str) -> str:
    """The first value of header ``name`` ("" when absent)."""
    values = header_values(msg, name)
    return values[0] if values else ""


def mailbox(value: str) -> tuple[str, str] | None:
    """(display name, address) of the first mailbox in a raw address header value.

    The address is read before any encoded word is decoded: an encoded display
    name (``=?utf-8?q?Eve=0D=0ABcc:_victim@evil?= <eve@x>``) can say anything,
    but it never decides where a reply goes. One ``Name <address>`` is read as
    RFC 5322 says, whatever the name holds (Python's parser takes an unquoted
    ``victim@evil <eve@x>`` for the address victim@evil).
    """
    defused = _ENCODED_WORD_RE.sub("encoded-word", value)
    single = _NAME_ADDR_RE.fullmatch(defused)
    if single is not None:
        name = value.split("<", 1)[0]
        return " ".join(clean_str(_decoded(name)).split()).strip('"'), clean_str(single.group(1))
    try:
        parsed = email.policy.default.header_factory("From", value)
        addresses = getattr(parsed, "addresses", ())
        if addresses and addresses[0].addr_spec and "@" in addresses[0].addr_spec:
            first = addresses[0]
            return clean_str(first.display_name), clean_str(first.addr_spec)
    except MAIL_ERRORS:
        pass  # CR/LF in a decoded name, odd groups: read it without the parser below
    pairs = [(n, a) for n, a in email.utils.getaddresses([defused]) if "@" in a]
    if not pairs:
        return None
    address = pairs[0][1]
    name = value.split("<", 1)[0] if "<" in value else pairs[0][0]
    return " ".join(clean_str(_decoded(name)).split()).strip('"'), clean_str(address)


def safe_author(msg: EmailMessage, inbody: Sequence[tuple[str, str]] = ()) -> tuple[str, str]:
    """(name, address) of the author: a git-style in-body ``From:`` line (``inbody``: the
    body's leading headers), else X-Original-From (lists that rewrite From), else From."""
    for name, value in inbody:
        if name.lower() == "from" and (found := mailbox(value)) is not None:
            return found
    for header in ("x-original-from", "from"):
        for key, value in msg.raw_items():
            if key.lower() == header and (found := mailbox(str(value))) is not None:
                return found
    return ("", "missing@address.local")


def safe_msgid(msg: EmailMessage, header: str = "Message-Id") -> str | None:
    """A Message-ID header's id (without <>), or None."""
    try:
        found = get_clean_msgid(msg, header)
    except MAIL_ERRORS:
        return None
    return clean_str(found) if found is not None else None


def _date(msg: EmailMessage) -> datetime.datetime | None:
    try:
        return msg_get_date(msg)
    except MAIL_ERRORS:
        return None


def decode_text_parts(msg: EmailMessage) -> str:
    """Concatenate the decoded text parts a patch may live in (inline or attached)."""
    texts: list[str] = []
    for count, part in enumerate(msg.walk()):
        if count >= MAX_MIME_PARTS:
            break
        if part.is_multipart():
            continue
        try:
            text = _decode_part(part)
        except MAIL_ERRORS:
            continue  # one unreadable part (bad parameters, broken encoding) is left out
        if text is not None:
            texts.append(text.replace("\r\n", "\n"))
    return "\n".join(texts)


def _decode_part(part: Message) -> str | None:
    ctype = part.get_content_type()
    filename = part.get_filename() or ""
    if ctype not in _PATCH_TEXT_TYPES and not filename.endswith((".patch", ".diff")):
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _addresses(msg: EmailMessage, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, a) for n, a in email.utils.getaddresses(header_values(msg, name)) if a)


def _references(msg: EmailMessage) -> tuple[str, ...]:
    raw = " ".join(header_values(msg, "References"))
    return tuple(re.findall(r"<([^<>\s]+)>", raw))


def _check_patch_size(diff_text: str, limits: LimitsSettings) -> None:
    lines = diff_text.count("\n") + (0 if diff_text.endswith("\n") else 1)
    if lines > limits.max_patch_lines:
        raise LimitError(f"the patch has {lines} lines, over [limits] max_patch_lines "
                         f"({limits.max_patch_lines})")


def mail_from_message(msg: EmailMessage, source: str, commit: str | None = None,
                      raw: bytes = b"", limits: LimitsSettings | None = None
                      ) -> PatchMail | CoverMail | None:
    """Turn one parsed message into a patch or cover letter (None: not a patch).

    ``raw`` is the message as read, kept so that ``git am`` can apply it later.
    Raises LimitError for a patch over [limits] max_patch_lines, DiffError for
    a diff that does not parse.
    """
    subject = header_value(msg, "Subject")
    body = decode_text_parts(msg)
    parts = split_body_parts(body)
    for name, value in parts.githeaders:
        if name.lower() == "subject":
            subject = clean_str(_decoded(value))
    info = subject_info(subject)
    msgid = safe_msgid(msg)
    base = _BASE_COMMIT_RE.search(body)
    diff_text = find_diff(body)
    if diff_text is None:
        if info.is_cover and not info.is_reply:
            return CoverMail(source, subject, msgid, info.version, info.expected,
                             base.group(1) if base else None, parts.message)
        return None
    _check_patch_size(diff_text, limits or LimitsSettings())
    files = tuple(parse_diff(diff_text))
    message = parts.message
    if not info.is_patch and not message:
        message = body[: body.find(diff_text)] if diff_text in body else ""
    in_reply_to = safe_msgid(msg, "In-Reply-To")
    list_ids = tuple(header_values(msg, "List-Id"))
    return PatchMail(
        source=source,
        subject=subject,
        title=info.title,
        message_id=msgid,
        author=safe_author(msg, parts.githeaders),
        date=_date(msg),
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


def mail_from_diff(text: str, source: str, limits: LimitsSettings | None = None) -> PatchMail:
    """A bare unified diff (no mail headers) as a patch."""
    diff_text = find_diff(text)
    if diff_text is None:
        raise DiffError("no unified diff found")
    _check_patch_size(diff_text, limits or LimitsSettings())
    files = tuple(parse_diff(diff_text))
    preamble = text[: text.find(diff_text)].strip()
    return PatchMail(
        source=source, subject=Path(source).name, title=Path(source).name, message_id=None,
        author=("", ""), date=None, version=1, counter=1, expected=1, counters_inferred=True,
        prefixes=(), is_reply=False, commit_message=preamble, files=files, diff=diff_text,
    )


def iter_mbox(stream: BinaryIO, max_message_bytes: int) -> Iterator[tuple[bytes | int, bytes]]:
    """The messages of an mbox stream, one at a time: (message, its "From " line).

    A message larger than ``max_message_bytes`` is given as its size instead:
    its bytes are counted, never kept. Each message is split exactly as
    liblore's ``split_mbox_as_bytes`` splits a whole mbox (mboxrd ">From "
    unescaping included).
    """
    block: list[bytes] = []
    size = 0
    separator = b""
    started = False

    def flush(last: bool) -> Iterator[tuple[bytes | int, bytes]]:
        if size > max_message_bytes:
            yield size, separator
            return
        text = b"".join(block)
        if not last and text.endswith(b"\n"):
            text = text[:-1]  # the newline before the next "From " line ends this one
        for message in split_mbox_as_bytes(text):
            yield message, separator

    for line in stream:
        if len(line) >= 20 and _MBOX_FROM_RE.match(line):
            if started or block:
                yield from flush(last=False)
            block, size, separator, started = [line], len(line), line, True
            continue
        size += len(line)
        if size <= max_message_bytes:
            block.append(line)
        elif block:
            block = []  # over the limit: only the size is counted from here on
    if started or block:
        yield from flush(last=True)


def read_stream(stream: BinaryIO, source: str, limits: LimitsSettings | None = None,
                size_hint: int | None = None) -> Ingested:
    """Read one input from a binary stream (a file, stdin, bytes)."""
    limits = limits or LimitsSettings()
    out = Ingested()
    if size_hint is not None and size_hint > MAX_INPUT_BYTES:
        out.errors.append(InputError(source, f"input is larger than {MAX_INPUT_BYTES} bytes"))
        return out
    start = stream.read(8192)
    if b"\x00" in start and not looks_like_mbox(start):
        out.errors.append(InputError(source, "binary data, not a patch or mail"))
        return out
    if looks_like_mbox(start):
        _read_mbox(io.BufferedReader(_Chained(start, stream)), source, limits, out)
        return out
    rest = stream.read(max(0, limits.max_message_bytes + 1 - len(start)))
    raw = start + rest
    if len(raw) > limits.max_message_bytes:
        total = size_hint if size_hint is not None else len(raw) + _drain(stream)
        out.errors.append(InputError(source, _too_large(total, limits)))
        return out
    if looks_like_mail(raw):
        _read_message(raw, source, out, None, limits)
        return out
    text = raw.decode("utf-8", errors="replace")
    try:
        out.patches.append(mail_from_diff(text, source, limits))
    except LimitError as exc:
        out.errors.append(InputError(source, str(exc)))
    except DiffError as exc:
        out.errors.append(InputError(source, f"not a mail, mbox or diff ({exc})"))
    return out


def read_bytes(raw: bytes, source: str, limits: LimitsSettings | None = None) -> Ingested:
    """Read one input given as bytes."""
    return read_stream(io.BytesIO(raw), source, limits, size_hint=len(raw))


class _Chained(io.RawIOBase):
    """``head`` (already read) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head = head
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        if self.head:
            n = min(len(view), len(self.head))
            view[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.stream.read(len(view))
        view[:len(data)] = data
        return len(data)


def _drain(stream: BinaryIO) -> int:
    total = 0
    while chunk := stream.read(1 << 20):
        total += len(chunk)
    return total


def _too_large(size: int, limits: LimitsSettings) -> str:
    return (f"message is {size} bytes, over [limits] max_message_bytes "
            f"({limits.max_message_bytes}); skipped")


def _read_mbox(stream: BinaryIO, source: str, limits: LimitsSettings, out: Ingested) -> None:
    messages: list[tuple[bytes | int, bytes]] = []
    total = 0
    for message, separator in iter_mbox(stream, limits.max_message_bytes):
        total += message if isinstance(message, int) else len(message)
        if total > MAX_INPUT_BYTES:
            out.errors.append(InputError(source, f"input is larger than {MAX_INPUT_BYTES} "
                                                 "bytes; the rest is not read"))
            break
        messages.append((message, separator))
    for index, (message, separator) in enumerate(messages, start=1):
        label = f"{source}#{index}" if len(messages) > 1 else source
        if isinstance(message, int):
            out.errors.append(InputError(label, _too_large(message, limits)))
            continue
        commit = _FORMAT_PATCH_FROM_RE.match(separator)
        _read_message(message, label, out, commit.group(1).decode() if commit else None,
                      limits)
    if not messages:
        out.errors.append(InputError(source, "empty mbox"))


def _read_message(raw: bytes, source: str, out: Ingested, commit: str | None,
                  limits: LimitsSettings | None = None) -> None:
    if limits is not None and len(raw) > limits.max_message_bytes:
        out.errors.append(InputError(source, _too_large(len(raw), limits)))
        return
    try:
        msg = read_message(raw)
        if not msg.keys():
            raise DiffError("message has no headers")
        result = mail_from_message(msg, source, commit, raw, limits)
    except (DiffError, LimitError, MailError) as exc:
        out.errors.append(InputError(source, str(exc) or type(exc).__name__))
        return
    except MAIL_ERRORS as exc:  # one unreadable message fails alone
        out.errors.append(InputError(source, f"cannot read the mail ({type(exc).__name__})"))
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


def read_paths(paths: Iterable[str], stdin: bytes | BinaryIO | None = None,
               limits: LimitsSettings | None = None) -> Ingested:
    """Read every input; ``-`` means ``stdin`` (bytes, or a binary stream)."""
    out = Ingested()
    for path in iter_input_files(paths):
        if str(path) == "-":
            if isinstance(stdin, bytes | None):
                out.extend(read_bytes(stdin or b"", "<stdin>", limits))
            else:
                out.extend(read_stream(stdin, "<stdin>", limits))
            continue
        try:
            with path.open("rb") as handle:
                size = path.stat().st_size if path.is_file() else None
                out.extend(read_stream(handle, str(path), limits, size_hint=size))
        except OSError as exc:
            out.errors.append(InputError(str(path), exc.strerror or str(exc)))
    return out
