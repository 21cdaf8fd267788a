"""Fuzz targets: one per parser that sees untrusted bytes.

Each target takes the raw fuzz input (bytes) and raises when it finds a bug:
an exception other than the parser's documented error, or an output that
breaks an invariant (a line number outside its hunk, a rule that failed).
The atheris driver (``fuzz/run.py``) and the regression test
(``tests/hostile/test_regressions.py``) both call these functions, so every
crash input saved under ``tests/hostile/regressions/TARGET/`` is replayed in
the normal test suite.
"""

from __future__ import annotations

import email
import email.policy
import os
import tempfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from heuristics import PatchInput, analyse
from heuristics.inputs import FileChange, Hunk, whole_file, with_texts
from heuristics.model import KernelVersion
from reviewbot.apitables import default_tables
from reviewbot.config import ConfigError, Settings, load_settings
from reviewbot.configlayers import load_effective
from reviewbot.diffs import DiffError, find_diff, parse_diff, repair
from reviewbot.ingest import Ingested, PatchMail, read_bytes
from reviewbot.pipeline import Options
from reviewbot.series import assemble
from reviewbot.store import Store

Target = Callable[[bytes], None]
MAINLINE = KernelVersion.parse("6.12")


class InvariantError(AssertionError):
    """An output that breaks a documented invariant."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise InvariantError(what)


# -- invariants ------------------------------------------------------------------


def check_hunk(hunk: Hunk, where: str) -> None:
    """Line numbers run consecutively from the hunk's starts and stay inside its lengths."""
    old_no, new_no = hunk.old_start, hunk.new_start
    old_seen = new_seen = 0
    for line in hunk.lines:
        if line.kind in (" ", "-"):
            _check(line.old_no is not None and line.old_no >= 0, f"{where}: old line missing")
            old_seen += 1
        if line.kind in (" ", "+"):
            _check(line.new_no is not None and line.new_no >= 0, f"{where}: new line missing")
            new_seen += 1
        _check("\n" not in line.text, f"{where}: a hunk line holds a newline")
    _check(old_seen == hunk.old_len, f"{where}: {old_seen} old lines, header says "
                                     f"{hunk.old_len}")
    _check(new_seen == hunk.new_len, f"{where}: {new_seen} new lines, header says "
                                     f"{hunk.new_len}")
    numbered = [ln.new_no for ln in hunk.lines if ln.new_no is not None]
    _check(numbered == sorted(numbered), f"{where}: post-image lines out of order")
    if numbered and hunk.new_len:
        _check(numbered[0] >= new_no and numbered[-1] < new_no + hunk.new_len,
               f"{where}: post-image line outside the hunk")
    olds = [ln.old_no for ln in hunk.lines if ln.old_no is not None]
    if olds and hunk.old_len:
        _check(olds[0] >= old_no and olds[-1] < old_no + hunk.old_len,
               f"{where}: pre-image line outside the hunk")


def check_changes(files: tuple[FileChange, ...] | list[FileChange], where: str) -> None:
    """Every hunk of every file is well formed."""
    for change in files:
        _check(bool(change.path), f"{where}: a file change without a path")
        for i, hunk in enumerate(change.hunks):
            check_hunk(hunk, f"{where}: {change.path} hunk {i}")


def check_ingested(out: Ingested, where: str) -> None:
    """Every patch read is well formed; errors carry a reason."""
    for patch in out.patches:
        _check(bool(patch.files), f"{where}: a patch without files")
        check_changes(patch.files, where)
        _check(patch.counter >= 0 and patch.expected >= 0 and patch.version >= 0,
               f"{where}: odd counters {patch.counter}/{patch.expected} v{patch.version}")
    for err in out.errors:
        _check(bool(err.error), f"{where}: an input error without a reason")


def check_analysis(files: tuple[FileChange, ...], mode: str) -> None:
    """Analyse the files; rules never fail and findings point into the changed files."""
    patch = PatchInput(subject="fuzz", commit_message="", files=files,
                       kernel_version=MAINLINE, scan=mode == "scan")
    result = analyse(patch, default_tables())
    _check(not [e for e in result.errors if "cannot parse" not in e],
           f"{mode}: rule failure: {result.errors}")
    for finding in result.findings:
        # A patch may name one file twice (two diffs pasted together): any of them.
        changes = [f for f in files if f.path == finding.file]
        _check(bool(changes), f"{mode}: finding in an unchanged file {finding.file!r}")
        hunks = [h for c in changes for h in c.hunks]
        if mode == "hunk":
            lines = {ln.new_no for h in hunks for ln in h.lines if ln.new_no}
            ends = {h.new_start + h.new_len for h in hunks} | {h.new_start for h in hunks}
            _check(finding.line in lines or finding.line in ends,
                   f"hunk: finding {finding.rule} at line {finding.line}, not in a hunk")
        else:
            count = max(len((c.post_text or "").splitlines()) for c in changes)
            _check(0 <= finding.line <= count + 1,
                   f"{mode}: finding {finding.rule} at line {finding.line} of {count}")


def images(change: FileChange) -> tuple[str, str]:
    """(pre, post) texts a hunk-only change implies (its windows, concatenated)."""
    pre = [ln.text for h in change.hunks for ln in h.lines if ln.kind != "+"]
    post = [ln.text for h in change.hunks for ln in h.lines if ln.kind != "-"]
    return "\n".join(pre) + "\n", "\n".join(post) + "\n"


# -- targets -----------------------------------------------------------------------


def fuzz_ingest(data: bytes) -> None:
    """Mail, mbox, format-patch and plain diff input: read_bytes never raises."""
    for raw in (data, b"From fuzz Thu Jan  1 00:00:00 1970\n" + data,
                b"From: a@example.org\nSubject: [PATCH] x\nMessage-ID: <f@x>\n" + data):
        check_ingested(read_bytes(raw, "fuzz"), "ingest")


def fuzz_diffs(data: bytes) -> None:
    """Diff finding, repair and parsing: only DiffError, and well-formed hunks."""
    text = data.decode("utf-8", "surrogateescape")
    found = find_diff(text)
    if found is not None:
        _check(text.endswith(found), "find_diff returned text that is not a suffix")
    fixed = repair(text)
    _check("\r" not in fixed, "repair left a CR")
    try:
        files = parse_diff(text)
    except DiffError:
        return
    check_changes(files, "diffs")


def fuzz_engine(data: bytes) -> None:
    """The C context and the rules on arbitrary diffs, in hunk, tree and scan mode."""
    text = data.decode("utf-8", "surrogateescape")
    if find_diff(text) is None:
        # Bare C: one new file, so the fuzzer can also speak C directly.
        text = "--- /dev/null\n+++ b/fs/fuzz/x.c\n@@ -0,0 +1,{} @@\n{}".format(
            len(text.splitlines()), "".join(f"+{ln}\n" for ln in text.splitlines()))
    try:
        files = tuple(f for f in parse_diff(text) if f.is_c and not f.is_binary)
    except DiffError:
        return
    if not files:
        return
    check_analysis(files, "hunk")
    whole = tuple(with_texts(f, *images(f)) for f in files)
    check_analysis(whole, "tree")
    scanned = tuple(whole_file(f.path, images(f)[1]) for f in files[:1])
    check_analysis(scanned, "scan")


def fuzz_series(data: bytes) -> None:
    """Series assembly over the patches of an mbox: every submission lands in one series."""
    ingested = read_bytes(data, "fuzz")
    if not ingested.patches:
        return
    _assemble_checked(ingested)


def _assemble_checked(ingested: Ingested) -> None:
    everything = assemble(ingested, all_versions=True)
    placed = [id(p) for s in everything for p in s.patches]
    _check(len(placed) == len(set(placed)), "series: a patch in two series")
    submissions = {id(p) for p in ingested.patches if not p.is_reply}
    _check(submissions <= set(placed), "series: a submission in no series")
    for s in everything:
        _check(bool(s.patches), "series: an empty series")
        _check(all(p.version == s.version for p in s.patches), "series: mixed versions")
        _check([p.counter for p in s.patches] == sorted(p.counter for p in s.patches),
               "series: patches out of order")
    newest = assemble(ingested)
    _check({id(s.patches[0]) for s in newest} <= {id(s.patches[0]) for s in everything},
           "series: newest-version selection invented a series")


def patches_from_fields(fields: list[tuple[str, str | None, tuple[str, ...], bool]]
                        ) -> Ingested:
    """PatchMails from (subject, message id, references, is_reply) without any diff."""
    from liblore.series import parse_patch_subject

    out = Ingested()
    for index, (subject, msgid, refs, reply) in enumerate(fields):
        info = parse_patch_subject(subject)
        out.patches.append(PatchMail(
            source=f"fuzz/{index}", subject=subject, title=info.title, message_id=msgid,
            author=("", ""), date=None, version=info.version, counter=info.counter,
            expected=info.expected, counters_inferred=info.counters_inferred,
            prefixes=info.prefixes, is_reply=reply or info.is_reply, commit_message="",
            files=(), references=refs, in_reply_to=refs[-1] if refs else None))
    return out


def fuzz_config(data: bytes) -> None:
    """A site config file: Settings, or ConfigError naming the problem."""
    with tempfile.TemporaryDirectory(prefix="reviewbot-fuzz-") as tmp:
        path = Path(tmp) / "site.toml"
        path.write_bytes(data)
        try:
            load_settings(path)
        except ConfigError as exc:
            _check(bool(str(exc)), "config: an empty ConfigError")
        env = _environment(data)
        try:
            load_effective(None, environ=env, use_git=False, cwd=Path(tmp))
        except ConfigError as exc:
            _check(bool(str(exc)), "config: an empty ConfigError from the environment")


def _environment(data: bytes) -> dict[str, str]:
    """REVIEWBOT_* variables from the lines of the input (NAME=VALUE)."""
    env: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines()[:32]:
        name, eq, value = line.partition("=")
        name = name.strip().replace("\x00", "")
        if eq and name and "\x00" not in value:
            env[f"REVIEWBOT_{name.upper()}"[:200]] = value
    env.pop("REVIEWBOT_CONFIG", None)
    return env


# -- the list bot: intake, review, reply --------------------------------------------

REPLY_HEADERS = frozenset({"from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
                           "references", "auto-submitted", "x-mailer", "content-type",
                           "content-transfer-encoding", "mime-version"})
_BOT_SETTINGS = Settings.model_validate({
    "bot": {"address": "reviewbot@bot.example.net"},
    "scope": {"paths": [], "grace_minutes": 0},
    "policy": {"default": {"mode": "lists", "min_confidence": "low",
                           "min_severity": "advice"}},
})


class MemoryTransport:
    """Keeps every reply it is given (the fuzzer's SMTP server)."""

    name = "memory"
    final_status = "sent"

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list[str], str]] = []

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        self.sent.append((raw, recipients, message_id))

    def close(self) -> None:
        """Nothing to release."""


def check_reply(raw: bytes, recipients: list[str]) -> EmailMessage:
    """A reply: only the bot's own headers, each one line, no control characters."""
    head = raw.split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        _check(b"\r" not in line.rstrip(b"\r"), "reply: a CR inside a header line")
        _check(all(b >= 0x20 or b == 0x09 for b in line.rstrip(b"\r")),
               f"reply: a control character in {line[:60]!r}")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    names = [k.lower() for k in msg]
    _check(set(names) <= REPLY_HEADERS, f"reply: unexpected headers {set(names) - REPLY_HEADERS}")
    _check(len(names) == len(set(names)), f"reply: a header twice: {names}")
    _check(bool(recipients) and all("\n" not in r and "\r" not in r for r in recipients),
           f"reply: odd recipients {recipients!r}")
    return msg


def fuzz_bot(data: bytes) -> None:
    """One message (or an mbox of them) through the bot: recorded once, replies well formed."""
    from liblore.utils import split_mbox_as_bytes

    from reviewbot.reply import Templates
    from reviewbot.watch.bot import Bot

    store = Store.open(":memory:")
    transport = MemoryTransport()
    bot = Bot(store, _BOT_SETTINGS, Options(settings=_BOT_SETTINGS), transport,
              clock=lambda: 1_700_000_000.0, echo=lambda text: None)
    bot.templates = Templates.load()
    try:
        raws = split_mbox_as_bytes(data) if data.startswith(b"From ") else [data]
        for raw in raws[:16]:
            first = bot.take(raw, "fuzz")
            _check(first.status in ("seen", "skipped", "failed"), f"bot: status {first.status}")
            _check(first.duplicate or first.status == "seen" or bool(first.reason),
                   f"bot: {first.status} without a reason")
            first.msgid.encode("utf-8")
            _check(bot.take(raw, "fuzz").duplicate, "bot: a message taken twice")
        bot.process(force={int(r["id"]) for r in store.rows("SELECT id FROM series")})
        for raw, recipients, _ in transport.sent:
            check_reply(raw, recipients)
    finally:
        store.close()


# -- MAINTAINERS ---------------------------------------------------------------------

SAMPLE_PATHS = ("fs/foofs/inode.c", "fs/foofs/test/a.c", "mm/vmscan.c", "mm/internal.h",
                "include/linux/sched/mm.h", "MAINTAINERS", "a", "")


def fuzz_maintainers(data: bytes) -> None:
    """A MAINTAINERS file: entries and warnings; lookups are consistent with the entries."""
    from reviewbot.dashboard.maintainers import Index, parse

    entries, warnings = parse(data.decode("utf-8", "replace"))
    _check(all(isinstance(w, str) and w for w in warnings), "maintainers: an empty warning")
    for entry in entries:
        _check(bool(entry.title) and "\n" not in entry.title, "maintainers: an odd title")
        for person in entry.people:
            _check("@" in person.email and person.email == person.email.lower(),
                   f"maintainers: odd address {person.email!r}")
    index = Index(entries)
    # Paths the entries talk about (wildcards filled in) and a few fixed ones.
    paths = list(SAMPLE_PATHS)
    for entry in entries[:20]:
        for pattern in entry.files[:5]:
            paths.append(pattern.text.replace("*", "x").replace("?", "y").rstrip("/") + "/z.c")
            paths.append(pattern.text.replace("*", "x").replace("?", "y"))
    for path in paths:
        found = index.entries_for(path)
        _check(all(e.match(path) is not None for e in found),
               f"maintainers: an entry listed for {path!r} does not cover it")
        _check(len({id(e) for e in found}) == len(found), "maintainers: an entry listed twice")
        scores = [e.match(path) or 0 for e in found]
        _check(scores == sorted(scores, reverse=True),
               f"maintainers: {path!r} not most specific first")
        expected = {id(e) for e in entries if e.match(path) is not None}
        _check(expected == {id(e) for e in found},
               f"maintainers: the index misses entries covering {path!r}")
    people = index.people()
    for address, (person, named) in people.items():
        _check(person.email == address and bool(named), "maintainers: an odd people table")


TARGETS: dict[str, Target] = {
    "ingest": fuzz_ingest,
    "diffs": fuzz_diffs,
    "engine": fuzz_engine,
    "series": fuzz_series,
    "config": fuzz_config,
    "bot": fuzz_bot,
    "maintainers": fuzz_maintainers,
}

# Where the seed inputs of each target come from (paths relative to the repository).
SEEDS: dict[str, tuple[str, ...]] = {
    "ingest": ("tests/fixtures/rules", "examples"),
    "diffs": ("tests/fixtures/rules",),
    "engine": ("tests/fixtures/rules",),
    "series": ("examples",),
    "config": ("config",),
    "bot": ("examples", "tests/fixtures/rules"),
    "maintainers": ("tests/fixtures/maintainers",),
}


def repository_root() -> Path:
    """The repository this file lives in."""
    return Path(os.path.dirname(os.path.abspath(__file__))).parent
