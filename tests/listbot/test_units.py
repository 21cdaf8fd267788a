"""Policy, thread memory, state store, configuration and intake, without servers."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from heuristics.model import Confidence, Severity
from reviewbot import botconfig
from reviewbot.botconfig import DefaultListPolicy, ListPolicy, PolicySettings
from reviewbot.config import ConfigError, Settings, load_settings
from reviewbot.policy import decide, path_opted_out, policy_for_list
from reviewbot.store import Store, StoreError
from reviewbot.store.schema import MIGRATIONS, SCHEMA_VERSION
from reviewbot.watch.intake import Intaker
from reviewbot.watch.thread import already_raised, comments_on, names_rule
from tests.listbot import mails

BOT = "reviewbot@bot.example.net"
AUTHOR = ("Alice", "alice@example.org")
TO = (("", "linux-foofs@lists.example.org"),)
CC = (("Carol", "carol@example.org"), ("", "other-list@vger.example.org"))


def _policy(**lists: ListPolicy) -> PolicySettings:
    return PolicySettings(lists=lists)


# -- policy ------------------------------------------------------------------

def test_lists_are_muted_until_enabled() -> None:
    got = decide(_policy(), AUTHOR, TO, CC, ["<linux-foofs.lists.example.org>"], BOT)
    assert got.action == "muted" and got.to is None


def test_lists_mode_ccs_the_enabled_list_only() -> None:
    got = decide(_policy(**{"linux-foofs@lists.example.org": ListPolicy(mode="lists")}),
                 AUTHOR, TO, CC, [], BOT)
    assert got.action == "mail" and got.to == AUTHOR
    assert got.cc == (("", "linux-foofs@lists.example.org"),)
    assert got.lists == ("linux-foofs@lists.example.org",)


def test_list_named_by_list_id_matches_its_posting_address() -> None:
    got = decide(_policy(**{"linux-foofs.lists.example.org": ListPolicy(mode="lists")}),
                 AUTHOR, TO, (), ["Foo list <linux-foofs.lists.example.org>"], BOT)
    assert got.action == "mail" and got.cc == (("", "linux-foofs@lists.example.org"),)


def test_author_and_maintainers_modes() -> None:
    author_only = decide(_policy(**{TO[0][1]: ListPolicy(mode="author")}), AUTHOR, TO, CC,
                         [], BOT)
    assert author_only.action == "mail" and author_only.cc == ()
    maint = decide(_policy(**{TO[0][1]: ListPolicy(
        mode="maintainers", maintainers=["maint@example.org", "alice@example.org"])}),
        AUTHOR, TO, CC, [], BOT)
    assert maint.cc == (("", "maint@example.org"),)  # never the author twice


def test_strictest_thresholds_of_the_enabled_lists() -> None:
    settings = PolicySettings(
        default=DefaultListPolicy(mode="lists"),
        lists={TO[0][1]: ListPolicy(min_severity=Severity.ERROR, embargo_hours=2,
                                    max_per_thread=3),
               "other-list@vger.example.org": ListPolicy(min_confidence=Confidence.HIGH)})
    got = decide(settings, AUTHOR, TO, CC, [], BOT)
    assert got.policy.min_severity == Severity.ERROR
    assert got.policy.min_confidence == Confidence.HIGH
    assert got.policy.embargo_hours == 2 and got.policy.max_per_thread == 3
    assert set(got.lists) == {TO[0][1], "other-list@vger.example.org"}
    assert policy_for_list(settings, "linux-foofs.lists.example.org").embargo_hours == 2


def test_opt_outs() -> None:
    settings = PolicySettings(lists={TO[0][1]: ListPolicy(mode="lists")},
                              opt_out_addresses=["Alice@Example.org"],
                              opt_out_paths=["drivers/staging/", "fs/foofs/*.h"])
    assert decide(settings, AUTHOR, TO, (), [], BOT).action == "opted-out"
    learnt = decide(PolicySettings(lists={TO[0][1]: ListPolicy(mode="lists")}), AUTHOR, TO,
                    (), [], BOT, {"alice@example.org"})
    assert learnt.action == "opted-out"
    assert path_opted_out("drivers/staging/x.c", settings)
    assert path_opted_out("fs/foofs/x.h", settings)
    assert not path_opted_out("fs/foofs/x.c", settings)
    assert decide(settings, ("", BOT), TO, (), [], BOT).action == "no-author"


# -- thread memory -------------------------------------------------------------

def test_a_reviewer_quoting_the_line_and_commenting_raised_it() -> None:
    body = ("On Mon, Alice wrote:\n> +\tif (!blk)\n> +\t\treturn -ENOMEM;\n\n"
            "This leaks the NOFS scope.\n")
    assert comments_on(body, "return -ENOMEM;")
    assert already_raised("MEMALLOC-001", "return -ENOMEM;", [body])
    quote_only = "> +\t\treturn -ENOMEM;\n> +\t}\n> rest\n> more\n> more\n\nUnrelated.\n"
    assert not comments_on(quote_only, "return -ENOMEM;")
    assert not comments_on("> x;\n\nok\n", "x;")  # too short to mean anything
    assert names_rule("Looks like MEMALLOC-001 to me", "MEMALLOC-001")
    assert not names_rule("> MEMALLOC-001 quoted only", "MEMALLOC-001")
    assert not names_rule("MEMALLOC-0011", "MEMALLOC-001")


# -- state store ---------------------------------------------------------------

def test_fresh_database_is_migrated_and_versioned(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        assert store.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        tables = {r["name"] for r in store.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"messages", "series", "reviews", "findings", "outbox", "cursors",
                "false_positives", "patchwork_checks", "opt_outs"} <= tables


def test_an_older_database_is_migrated_in_place(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store.open(db, migrations=MIGRATIONS[:1]) as store:
        store.set_cursor("lore:x", "123")
    extra = "CREATE TABLE later_addition (id INTEGER PRIMARY KEY);"
    with Store.open(db, migrations=[*MIGRATIONS[:1], extra]) as store:
        assert store.schema_version == 2
        assert store.cursor("lore:x") == "123"
        assert store.rows("SELECT * FROM later_addition") == []


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this reviewbot knows"):
        Store.open(db)


def test_one_writer_at_a_time_and_rollback(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Store.open(db) as store:
        with pytest.raises(StoreError, match="in use"):
            Store.open(db)
        with pytest.raises(RuntimeError), store.tx():
            store.set_cursor("a", "1")
            raise RuntimeError("crash mid-step")
        assert store.cursor("a") is None
    with Store.open(db) as again:  # the lock is released on close
        assert again.schema_version == SCHEMA_VERSION


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(bad)


# -- configuration -------------------------------------------------------------

def test_every_bot_key_is_documented_in_default_toml() -> None:
    from importlib import resources

    text = resources.files("reviewbot_config").joinpath("default.toml").read_text()
    data = tomllib.loads(text)
    sections: dict[str, type[BaseModel]] = {
        "bot": botconfig.BotIdentity, "lore": botconfig.LoreSettings,
        "scope": botconfig.ScopeSettings, "mail": botconfig.MailSettings,
        "smtp": botconfig.SmtpSettings, "patchwork": botconfig.PatchworkSettings,
        "storage": botconfig.StorageSettings}
    for name, model in sections.items():
        assert set(data[name]) == set(model.model_fields), name
    assert set(data["policy"]) == set(PolicySettings.model_fields)
    assert set(data["policy"]["default"]) == set(DefaultListPolicy.model_fields)
    assert set(ListPolicy.model_fields) <= set(DefaultListPolicy.model_fields)


@pytest.mark.parametrize(("text", "where"), [
    ('[policy.lists."x@example.org"]\nmodee = "lists"\n',
     'policy.lists.x@example.org.modee: unknown key'),
    ('[smtp]\nhots = "a"\n', "smtp.hots: unknown key"),
    ('[bot]\naddress = "not an address"\n', "bot.address"),
    ('[policy.default]\nmode = "loud"\n', "policy.default.mode"),
    ('[mail]\nwidth = 120\n', "mail.width"),
])
def test_bad_keys_are_errors_naming_file_and_key(tmp_path: Path, text: str,
                                                  where: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert str(path) in str(err.value) and where in str(err.value)


def test_secrets_come_from_config_or_environment_and_never_show(
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.smtp.secret() == ""
    monkeypatch.setenv("REVIEWBOT_SMTP_PASSWORD", "s3cret-env")
    monkeypatch.setenv("REVIEWBOT_PATCHWORK_TOKEN", "tok-env")
    assert settings.smtp.secret() == "s3cret-env"
    assert settings.patchwork.secret() == "tok-env"
    configured = Settings.model_validate({"smtp": {"password": "s3cret-file"}})
    assert configured.smtp.secret() == "s3cret-file"
    assert "s3cret" not in repr(configured) and "s3cret" not in str(configured.smtp)


# -- intake --------------------------------------------------------------------

@pytest.fixture
def intaker(tmp_path: Path) -> Intaker:
    settings = Settings.model_validate({"bot": {"address": BOT},
                                        "limits": {"max_message_bytes": 20000}})
    return Intaker(Store.open(tmp_path / "s.db"), settings)


def test_intake_classifies_every_kind_once(intaker: Intaker) -> None:
    series = mails.series("i1")
    got = [intaker.take(raw, "t") for raw in series]
    assert [(g.kind, g.status) for g in got] == [("cover", "seen")] + [("patch", "seen")] * 3
    assert len({g.series_id for g in got}) == 1
    again = intaker.take(series[1], "t")
    assert again.duplicate
    pull = mails.mail(mid="pull@x", subject="[GIT PULL] foofs fixes for 6.13",
                      body="please pull\n")
    hint = mails.mail(mid="hint@x", subject="[PATCH] foofs: x", body="x\n",
                      extra={"X-Patchwork-Hint": "ignore"})
    own = mails.mail(mid="own@x", subject="Re: [PATCH] x", body="x\n",
                     author=("reviewbot", BOT))
    big = mails.mail(mid="big@x", subject="[PATCH] big", body="x" * 30000)
    noid = b"From: a <a@example.org>\nSubject: [PATCH] x\n\nbody\n"
    other = mails.mail(mid="other@x", subject="foofs meeting notes", body="hello\n")
    results = {name: intaker.take(raw, "t") for name, raw in
               [("pull", pull), ("hint", hint), ("own", own), ("big", big), ("noid", noid),
                ("other", other), ("mangled", mails.mangled_patch("i1"))]}
    assert results["pull"].kind == "ignored" and results["pull"].reason == "[GIT PULL]"
    assert results["hint"].reason == "X-Patchwork-Hint: ignore"
    assert results["own"].kind == "own"
    assert (results["big"].kind, results["big"].msgid) == ("too-large", "big@x")
    assert results["noid"].kind == "malformed" and results["noid"].msgid.startswith("nomsgid:")
    assert results["other"].kind == "other"
    assert results["mangled"].status == "failed" and "malformed diff" in str(
        results["mangled"].reason)
    assert intaker.take(noid, "t").duplicate


def test_intake_moves_the_cursor_with_the_message(intaker: Intaker) -> None:
    raw = mails.series("i2")[1]
    intaker.take(raw, "src", cursor=("src", "abc"))
    assert intaker.store.cursor("src") == "abc"


def test_a_failing_step_leaves_nothing_half_recorded(intaker: Intaker,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in the middle of classifying rolls back its savepoint only."""
    raw = mails.series("i3")[1]

    def explode(*_args: object) -> None:
        intaker.store.execute("INSERT INTO opt_outs(address, created_at) VALUES ('x', 0)")
        raise RecursionError("nested too deep")

    monkeypatch.setattr(intaker, "_classify", explode)
    got = intaker.take(raw, "t", cursor=("t", "1"))
    assert (got.kind, got.status) == ("malformed", "failed")
    assert got.reason == "cannot read the mail (RecursionError)"
    assert intaker.store.rows("SELECT * FROM opt_outs") == []
    assert intaker.store.cursor("t") == "1"
