"""The SQLite schema of the bot's state, as an ordered list of migrations.

``PRAGMA user_version`` is the number of migrations applied. Never edit a
released migration: append a new one. Times are Unix seconds (REAL) in UTC.

Tables (the dashboard reads them; see each comment):

- ``meta``: key/value facts about the database (``created_by``).
- ``cursors``: per source, how far it has been read (``source`` is
  ``lore:<url>|<query hash>``, ``pigit:<dir>:<epoch>``, ``git:<dir>#<ref>``).
- ``messages``: every message or commit seen, once, by ``msgid`` (a commit's key
  is ``commit:<diff hash>``). ``kind``: patch, cover, reply, commit, own,
  ignored, other, malformed, too-large. ``status``: seen, skipped, failed, with
  ``reason``. ``raw`` is the mail (dropped after [storage] keep_raw_days).
- ``message_lists``: the lists (List-Id or address) a message went to.
- ``series``: one version of one series (``key``: thread root, version, count,
  author). ``status``: waiting, reviewed, skipped, failed. ``previous_id`` is
  the earlier version its findings were compared with.
- ``series_lists``: the lists a series went to (per-list pages).
- ``reviews``: one per reviewed patch, with ``action``: what the bot did with
  it (mailed, held, muted, opted-out, below-threshold, clean, no-mail, error).
- ``findings``: every finding of a review, with ``status`` (new,
  still-present, already-raised, false-positive, below-threshold, opted-out,
  over-limit), ``mailed``, the quoted hunk in ``quote``, and
  ``fixed_in_series_id`` once a later version no longer has it.
- ``outbox``: replies by their deterministic ``message_id``; ``status``:
  pending, sending, sent, failed, held, dropped, dry-run, uncertain. ``draft``
  is what the reply says as JSON (re-rendered when a human raises a finding
  during the embargo); ``raw`` is the mail as it will be or was sent.
- ``outbox_lists``: the lists whose rate limits an outbox entry counts against.
- ``patchwork_checks``: one check per patch and context; ``status``: pending,
  sent, failed.
- ``false_positives``: "reviewbot: false-positive RULE-ID" replies, linked to
  the bot reply and finding they answer when known.
- ``opt_outs``: addresses that asked for no more mail.
- ``digests`` (2): per digest scope (``all``, ``list:<list>``,
  ``subsystem:<title>``, ``maintainer:<address>``), the window the last
  ``reviewbot summary`` covered (``window_start``, ``window_end``) and when it
  ran (``made_at``); the next digest reports what changed after ``window_end``.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the initial schema.
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE cursors (
        source TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        thread_root TEXT NOT NULL,
        version INTEGER NOT NULL,
        expected INTEGER NOT NULL,
        title TEXT NOT NULL,
        family TEXT NOT NULL,
        author_name TEXT NOT NULL DEFAULT '',
        author_email TEXT NOT NULL DEFAULT '',
        cover_msgid TEXT,
        source TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'waiting',
        reason TEXT,
        previous_id INTEGER REFERENCES series(id),
        first_seen REAL NOT NULL,
        reviewed_at REAL
    );
    CREATE INDEX series_status ON series(status, first_seen);
    CREATE INDEX series_family ON series(author_email, family);
    CREATE TABLE series_lists (
        series_id INTEGER NOT NULL REFERENCES series(id),
        list TEXT NOT NULL,
        PRIMARY KEY (series_id, list)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        msgid TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        subject TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        author_name TEXT NOT NULL DEFAULT '',
        author_email TEXT NOT NULL DEFAULT '',
        date TEXT,
        in_reply_to TEXT,
        thread_root TEXT,
        series_id INTEGER REFERENCES series(id),
        counter INTEGER,
        commit_sha TEXT,
        raw BLOB,
        seen_at REAL NOT NULL
    );
    CREATE INDEX messages_thread ON messages(thread_root, kind);
    CREATE INDEX messages_series ON messages(series_id);
    CREATE INDEX messages_reply_to ON messages(in_reply_to);
    CREATE TABLE message_lists (
        message_id INTEGER NOT NULL REFERENCES messages(id),
        list TEXT NOT NULL,
        PRIMARY KEY (message_id, list)
    );
    CREATE TABLE reviews (
        id INTEGER PRIMARY KEY,
        series_id INTEGER NOT NULL REFERENCES series(id),
        msgid TEXT NOT NULL,
        subject TEXT NOT NULL,
        counter INTEGER,
        mode TEXT NOT NULL,
        kernel_version TEXT,
        error TEXT,
        action TEXT NOT NULL,
        reason TEXT,
        reviewed_at REAL NOT NULL,
        UNIQUE (series_id, msgid)
    );
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        review_id INTEGER NOT NULL REFERENCES reviews(id),
        series_id INTEGER NOT NULL REFERENCES series(id),
        msgid TEXT NOT NULL,
        rule TEXT NOT NULL,
        name TEXT NOT NULL,
        category TEXT NOT NULL,
        severity TEXT NOT NULL,
        confidence TEXT NOT NULL,
        file TEXT NOT NULL,
        line INTEGER NOT NULL,
        function TEXT,
        message TEXT NOT NULL,
        snippet TEXT NOT NULL,
        suggestion TEXT,
        fingerprint TEXT NOT NULL,
        docs_url TEXT NOT NULL,
        status TEXT NOT NULL,
        mailed INTEGER NOT NULL DEFAULT 0,
        quote TEXT NOT NULL DEFAULT '',
        fixed_in_series_id INTEGER REFERENCES series(id)
    );
    CREATE INDEX findings_series ON findings(series_id);
    CREATE INDEX findings_rule ON findings(rule);
    CREATE INDEX findings_fingerprint ON findings(fingerprint);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        in_reply_to TEXT,
        thread_root TEXT,
        series_id INTEGER REFERENCES series(id),
        review_id INTEGER REFERENCES reviews(id),
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        raw BLOB NOT NULL,
        draft TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        not_before REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        sent_at REAL,
        transport TEXT
    );
    CREATE INDEX outbox_status ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_thread ON outbox(thread_root);
    CREATE TABLE outbox_lists (
        outbox_id INTEGER NOT NULL REFERENCES outbox(id),
        list TEXT NOT NULL,
        PRIMARY KEY (outbox_id, list)
    );
    CREATE TABLE patchwork_checks (
        id INTEGER PRIMARY KEY,
        patch_msgid TEXT NOT NULL,
        context TEXT NOT NULL,
        state TEXT NOT NULL,
        description TEXT NOT NULL,
        target_url TEXT NOT NULL,
        series_id INTEGER REFERENCES series(id),
        status TEXT NOT NULL,
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        sent_at REAL,
        UNIQUE (patch_msgid, context)
    );
    CREATE TABLE false_positives (
        id INTEGER PRIMARY KEY,
        report_msgid TEXT NOT NULL,
        rule TEXT NOT NULL,
        reporter_name TEXT NOT NULL DEFAULT '',
        reporter_email TEXT NOT NULL DEFAULT '',
        in_reply_to TEXT,
        outbox_id INTEGER REFERENCES outbox(id),
        series_id INTEGER REFERENCES series(id),
        finding_id INTEGER REFERENCES findings(id),
        fingerprint TEXT,
        reported_at REAL NOT NULL,
        UNIQUE (report_msgid, rule)
    );
    CREATE INDEX false_positives_rule ON false_positives(rule);
    CREATE TABLE opt_outs (
        address TEXT PRIMARY KEY,
        report_msgid TEXT,
        created_at REAL NOT NULL
    );
    """,
    # 2: the last digest per scope (reviewbot summary).
    """
    CREATE TABLE digests (
        scope TEXT PRIMARY KEY,
        window_start REAL NOT NULL,
        window_end REAL NOT NULL,
        made_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
