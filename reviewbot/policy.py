"""Who gets a reply, and under which limits: per-list policies from [policy].

A patch went to some lists (its To/Cc addresses and List-Id headers). Each
list named under [policy.lists] brings its own policy, every other list the
[policy.default] one. The patch is mailed only when at least one of those
lists is not muted; the thresholds are the strictest of the lists that are.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from reviewbot.botconfig import DefaultListPolicy, PolicySettings

Address = tuple[str, str]
DEFAULT_LIST = "(default)"


def list_forms(name: str) -> set[str]:
    """A list's names: "foo@vger.kernel.org" is also the List-Id "foo.vger.kernel.org"."""
    name = name.strip().strip("<>").lower()
    if "@" in name:
        local, _, domain = name.partition("@")
        return {name, f"{local}.{domain}"}
    return {name}


def list_id_value(header: str) -> str:
    """The id inside a List-Id header ("Foo list <foo.example.org>" -> "foo.example.org")."""
    if "<" in header and ">" in header:
        header = header[header.rfind("<") + 1:header.rfind(">")]
    return header.strip().lower()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a reply to one patch."""

    action: str  # "mail", "muted", "opted-out", "no-author"
    to: Address | None
    cc: tuple[Address, ...]
    lists: tuple[str, ...]
    policy: DefaultListPolicy
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Match:
    key: str
    policy: DefaultListPolicy
    address: str | None


def _matches(settings: PolicySettings, addresses: Iterable[Address],
             list_ids: Iterable[str]) -> list[_Match]:
    addrs = [a.lower() for _, a in addresses if a]
    ids = {list_id_value(v) for v in list_ids if v.strip()}
    seen_forms: set[str] = set(addrs) | ids
    out: list[_Match] = []
    claimed: set[str] = set()
    for key, over in settings.lists.items():
        forms = list_forms(key)
        hit = [a for a in addrs if list_forms(a) & forms]
        if hit or forms & seen_forms:
            address = hit[0] if hit else (key if "@" in key else None)
            out.append(_Match(key, settings.default.merged(over), address))
            claimed |= forms
            claimed.update(hit)
    # Lists we know only from List-Id: the default policy.
    for list_id in sorted(ids):
        if list_id in claimed:
            continue
        address = next((a for a in addrs if list_id in list_forms(a)), None)
        out.append(_Match(list_id, settings.default, address))
        claimed.add(list_id)
    if not out:
        out.append(_Match(DEFAULT_LIST, settings.default, None))
    return out


def _strictest(policies: list[DefaultListPolicy]) -> DefaultListPolicy:
    first = policies[0]
    return first.model_copy(update={
        "min_severity": max(p.min_severity for p in policies),
        "min_confidence": max(p.min_confidence for p in policies),
        "embargo_hours": max(p.embargo_hours for p in policies),
        "max_per_hour": min(p.max_per_hour for p in policies),
        "max_per_thread": min(p.max_per_thread for p in policies),
    })


def policy_for_list(settings: PolicySettings, name: str) -> DefaultListPolicy:
    """The effective policy of one list (by any of its names)."""
    forms = list_forms(name)
    for key, over in settings.lists.items():
        if list_forms(key) & forms:
            return settings.default.merged(over)
    return settings.default


def opted_out(address: str, settings: PolicySettings, learnt: set[str]) -> bool:
    """Whether ``address`` asked for no mail (config or a "reviewbot: opt-out" reply)."""
    address = address.lower()
    configured = {a.lower() for a in settings.opt_out_addresses}
    return address in configured or address in learnt


def path_opted_out(path: str, settings: PolicySettings) -> bool:
    """Whether findings in ``path`` must never be mailed."""
    for pattern in settings.opt_out_paths:
        if pattern.endswith("/") and path.startswith(pattern):
            return True
        if fnmatch.fnmatchcase(path, pattern):
            return True
    return False


def decide(settings: PolicySettings, author: Address, to: Iterable[Address],
           cc: Iterable[Address], list_ids: Iterable[str], bot_address: str,
           learnt_opt_outs: set[str] = frozenset()) -> Decision:  # type: ignore[assignment]
    """The reply decision for a patch sent by ``author`` to ``to``/``cc``."""
    addresses = list(to) + list(cc)
    matches = _matches(settings, addresses, list_ids)
    enabled = [m for m in matches if m.policy.mode != "muted"]
    keys = tuple(m.key for m in enabled)
    if not enabled:
        names = ", ".join(m.key for m in matches)
        return Decision("muted", None, (), tuple(m.key for m in matches), settings.default,
                        f"muted on {names}")
    policy = _strictest([m.policy for m in enabled])
    name, address = author
    if not address or "@" not in address or address.lower() == bot_address.lower():
        return Decision("no-author", None, (), keys, policy, "no usable author address")
    if opted_out(address, settings, learnt_opt_outs):
        return Decision("opted-out", None, (), keys, policy, f"{address} opted out")
    cc_out: list[Address] = []
    seen = {address.lower(), bot_address.lower()}

    def add(entry: Address) -> None:
        if entry[1] and entry[1].lower() not in seen and not opted_out(
                entry[1], settings, learnt_opt_outs):
            seen.add(entry[1].lower())
            cc_out.append(entry)

    for match in enabled:
        if match.policy.mode == "lists" and match.address:
            add(("", match.address))
        elif match.policy.mode == "maintainers":
            for person in match.policy.maintainers:
                add(("", person))
    return Decision("mail", (name, address), tuple(cc_out), keys, policy)
