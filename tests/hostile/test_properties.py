"""Property-based tests (hypothesis) of every parser that sees untrusted bytes.

The invariants are the fuzz targets' own (fuzz/targets.py): only the documented
error types, well-formed output (hunk line numbers inside their hunks, each
submission in one series, replies with only the bot's headers). Examples are
bounded so the whole file runs in well under a minute; the atheris harness
(fuzz/run.py) explores far more.
"""

from __future__ import annotations

import base64
import difflib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import (
    _assemble_checked,
    fuzz_bot,
    fuzz_config,
    fuzz_diffs,
    fuzz_engine,
    fuzz_ingest,
    fuzz_maintainers,
    patches_from_fields,
)
from reviewbot.diffs import parse_diff

FAST = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOWER = settings(FAST, max_examples=100)

CHARSETS = ["utf-8", "iso-8859-1", "us-ascii", "utf-16", "x-unknown", "", "utf-8\x00",
            "koi8-r", "shift_jis", "utf-7"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"]
C_PIECES = ["{", "}", "(", ")", ";", "if (x)", "if (!p)", "else", "while (x)", "do", "for (;;)",
            "switch (x) {", "case 1:", "default:", "break;", "continue;", "return err;",
            "return -ENOMEM;", "goto out;", "out:", "nofs = memalloc_nofs_save();",
            "memalloc_nofs_restore(nofs);", "flags = memalloc_noio_save();",
            "memalloc_noio_restore(flags);", "p = kmalloc(n, GFP_KERNEL);",
            "p = kzalloc(n, GFP_NOFS | __GFP_NOFAIL);", "p = __vmalloc(n, gfp);",
            "mutex_lock(&m);", "mutex_unlock(&m);", "filemap_write_and_wait(inode->i_mapping);",
            "static int foofs_evict_inode(struct inode *inode)", "static void f(void)",
            ".evict_inode = foofs_evict_inode,", "/*", "*/", "//", '"', "'", "#if X",
            "#endif", "\\", "tx = foofs_trans_begin(sb);", "foofs_trans_end(tx);",
            "gfp_t gfp = GFP_NOFS;", "list_for_each_entry(p, &h, list) {", "guard(mutex)(&m);"]
DIFF_PIECES = ["diff --git a/fs/x.c b/fs/x.c", "--- a/fs/x.c", "+++ b/fs/x.c", "--- /dev/null",
               "+++ /dev/null", "new file mode 100644", "deleted file mode 100644",
               "index 1111111..2222222 100644", "\\ No newline at end of file", "-- ", "",
               "GIT binary patch", "literal 0", "rename from fs/a.c", "rename to fs/b.c",
               "Binary files a/x and b/x differ"]


def c_line() -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(C_PIECES), max_size=5).map(lambda p: "\t" + " ".join(p))


@st.composite
def hunk_text(draw: st.DrawFn) -> str:
    """A diff of C-ish lines with headers whose counts may or may not match."""
    out = []
    for _ in range(draw(st.integers(1, 3))):
        out += ["--- a/fs/foofs/x.c", "+++ b/fs/foofs/x.c"]
        for _ in range(draw(st.integers(1, 3))):
            a, b, c, d = (draw(st.integers(0, 60)) for _ in range(4))
            section = draw(st.sampled_from(["", " static int foofs_fn(struct inode *inode)",
                                            " struct foofs_ops = {", " f(a, (b"]))
            out.append(f"@@ -{a},{b} +{c},{d} @@{section}")
            for _ in range(draw(st.integers(0, 25))):
                prefix = draw(st.sampled_from([" ", "+", "+", "-", ""]))
                out.append(prefix + draw(c_line()))
    return "\n".join(out) + "\n"


@st.composite
def diff_soup(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.one_of(
        st.sampled_from(DIFF_PIECES),
        st.builds(lambda a, b, c, d: f"@@ -{a},{b} +{c},{d} @@", *(st.integers(-1, 40),) * 4),
        st.builds(lambda p, t: p + t, st.sampled_from([" ", "+", "-"]), st.text(max_size=30)),
        st.text(max_size=40)), max_size=40))
    return "\n".join(lines)


@given(st.binary(max_size=3000))
@FAST
def test_ingest_arbitrary_bytes(data: bytes) -> None:
    fuzz_ingest(data)


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Raw bytes of a MIME entity: nested multiparts, odd types, charsets and encodings."""
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "b" * 70, "=_x", " ", ""])) + str(depth)
        kind = draw(st.sampled_from(["mixed", "alternative", "digest", "x-bogus"]))
        head = f'Content-Type: multipart/{kind}; boundary="{boundary}"\n\n'.encode()
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        close = b"" if draw(st.booleans()) else f"--{boundary}--\n".encode()
        return head + b"".join(f"--{boundary}\n".encode() + c + b"\n" for c in children) + close
    ctype = draw(st.sampled_from(["text/plain", "text/x-patch", "text/html", "message/rfc822",
                                  "application/octet-stream", "text/plain; format=flowed"]))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    body = draw(st.sampled_from([b"", ("Sync.\n---\n" + HUNK).encode(),
                                 draw(st.binary(max_size=200))]))
    if encoding == "base64" and draw(st.booleans()):
        body = base64.b64encode(body)[: draw(st.integers(0, len(body) * 2))]
    name = draw(st.binary(max_size=20)).replace(b"\n", b" ")
    head = (f"Content-Type: {ctype}; charset=\"{charset}\"\n"
            f"Content-Transfer-Encoding: {encoding}\n").encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        head += b'Content-Disposition: attachment; filename="' + name + b'.patch"\n'
    return head + b"\n" + body


HUNK = """--- a/fs/foofs/inode.c
+++ b/fs/foofs/inode.c
@@ -10,3 +10,4 @@ static void foofs_evict_inode(struct inode *inode)
 {
+\tfilemap_write_and_wait(inode->i_mapping);
 \tclear_inode(inode);
 }
"""


HEADER_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@given(mime_part(), st.fixed_dictionaries({
    "From": HEADER_TEXT, "Subject": HEADER_TEXT.map(lambda s: "[PATCH] " + s),
    "Message-ID": HEADER_TEXT.map(lambda s: f"<{s}@example.org>"),
    "To": HEADER_TEXT, "References": HEADER_TEXT, "Date": HEADER_TEXT}))
@SLOWER
def test_mime_trees_and_header_values_through_ingest_and_the_bot(
        entity: bytes, headers: dict[str, str]) -> None:
    head = "".join(f"{k}: {' '.join(v.splitlines())}\n" for k, v in headers.items())
    raw = head.encode() + b"MIME-Version: 1.0\n" + entity
    fuzz_ingest(raw)
    fuzz_bot(raw)


@given(HEADER_TEXT, HEADER_TEXT, HEADER_TEXT)
@SLOWER
def test_raw_header_values_with_line_breaks(msgid: str, name: str, subject: str) -> None:
    """Values with CR, LF, NUL and encoded words, as raw bytes: recorded once, replies
    carry only the bot's headers (the bot target checks every reply it sent)."""
    raw = (f"From: {name} <a@example.org>\nTo: l@example.org\nSubject: [PATCH] {subject}\n"
           f"Message-ID: <{msgid}>\n\nSync.\n---\n{HUNK}").encode("utf-8", "surrogateescape")
    fuzz_bot(raw)


@given(diff_soup())
@FAST
def test_diff_soup(text: str) -> None:
    fuzz_diffs(text.encode("utf-8", "surrogatepass"))


LINE = st.sampled_from([*C_PIECES, "", " ", "\t", "x", "-x", "+y", "@@", "-- ", "\\x"])


@given(st.lists(LINE, max_size=40), st.lists(LINE, max_size=40), st.integers(0, 5),
       st.booleans())
@FAST
def test_parsed_hunks_match_the_files_they_came_from(old: list[str], new: list[str],
                                                     context: int, damage: bool) -> None:
    """A real unified diff (difflib) parses back to exactly the lines of both files, also
    after the damage mail does to it (trailing whitespace stripped)."""
    body = list(difflib.unified_diff(old, new, "a/fs/foofs/x.c", "b/fs/foofs/x.c", n=context,
                                     lineterm=""))
    if not body:
        return
    text = "\n".join(body) + "\n"
    if damage:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    [change] = parse_diff(text)
    for hunk in change.hunks:
        for line in hunk.lines:
            if line.new_no is not None:
                assert new[line.new_no - 1].rstrip() == line.text.rstrip()
            if line.old_no is not None:
                assert old[line.old_no - 1].rstrip() == line.text.rstrip()
    fuzz_diffs(text.encode())


@given(hunk_text())
@SLOWER
def test_engine_on_c_soup(text: str) -> None:
    fuzz_engine(text.encode())


@given(st.lists(c_line(), max_size=60))
@SLOWER
def test_engine_on_bare_c(lines: list[str]) -> None:
    fuzz_engine("\n".join(lines).encode())


SUBJECT = st.one_of(
    st.builds(lambda v, n, m, t: f"[PATCH{f' v{v}' if v else ''}{f' {n}/{m}' if m else ''}] "
                                 f"foofs: {t}", st.integers(0, 4), st.integers(0, 5),
              st.integers(0, 5), st.sampled_from(["a", "b", "c"])),
    st.builds(lambda s: f"Re: {s}", st.sampled_from(["[PATCH 1/2] foofs: a", "x"])),
    HEADER_TEXT)
MSGID = st.one_of(st.none(), st.sampled_from([f"m{i}@x" for i in range(6)]))


@given(st.lists(st.tuples(SUBJECT, MSGID, st.lists(st.sampled_from(
    [f"m{i}@x" for i in range(6)]), max_size=3).map(tuple), st.booleans()), max_size=12))
@FAST
def test_series_assembly(fields: list[tuple[str, str | None, tuple[str, ...], bool]]) -> None:
    _assemble_checked(patches_from_fields(fields))


TOML_PIECES = ["[smtp]", "[limits]", "[bot]", "[policy.default]", '[policy.lists."l@x"]',
               "[rules]", "[rules.severity]", "[scope]", "[nope]", "port = 25",
               "port = -1", "max_message_bytes = 0", "max_memory_mb = 64", 'password = "x"',
               'mode = "lists"', 'mode = "loud"', 'address = "not an address"',
               'select = ["NOFS"]', 'select = ["NOPE-999"]', '"NOFS-001" = "advice"',
               "paths = []", "x = 1", "= 1", "[", "]]", 'a = """', "k = inf", "k = nan",
               "max_seconds_per_message = 1e400", "grace_minutes = -5", "\x00", "\ufeff"]


@given(st.lists(st.one_of(st.sampled_from(TOML_PIECES), st.text(max_size=30)), max_size=25))
@FAST
def test_config_text(lines: list[str]) -> None:
    fuzz_config("\n".join(lines).encode("utf-8", "surrogatepass"))


@given(st.binary(max_size=600))
@FAST
def test_config_bytes(data: bytes) -> None:
    fuzz_config(data)


MAINTAINERS_PIECES = ["FOOFS FILESYSTEM", "M:\tAlice <alice@example.org>", "M:\tnot an address",
                      "R:\tBob <BOB@Example.ORG>", "L:\tlinux-foofs@vger.example.org", "S:\tMaintained",
                      "F:\tfs/foofs/", "F:\tfs/*/", "F:\t*", "F:\tmm/*.h", "F:\tmm/vmscan.c",
                      "F:\t?", "F:\t", "X:\tfs/foofs/test/", "N:\tmemalloc", "N:\t[",
                      "N:\t(a|aa)*$", "K:\tfoo", "Q:\thttps://x", "", "", "\t indented", "Z: x"]


@given(st.lists(st.one_of(st.sampled_from(MAINTAINERS_PIECES), st.text(max_size=30)),
                max_size=40))
@FAST
def test_maintainers_text(lines: list[str]) -> None:
    fuzz_maintainers("\n".join(lines).encode("utf-8", "surrogatepass"))


@given(st.binary(max_size=800))
@FAST
def test_maintainers_bytes(data: bytes) -> None:
    fuzz_maintainers(data)
