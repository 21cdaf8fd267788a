"""Schema of the kernel API tables (data lives in config/api/*.toml).

The caller loads and validates the TOML; the analysis core only sees an
:class:`ApiTables` instance, so it never touches files.
"""

from __future__ import annotations

import fnmatch
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from heuristics.model import KernelVersion

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _version(value: str | None) -> KernelVersion | None:
    return KernelVersion.parse(value) if value else None


class GfpTables(BaseModel):
    """GFP masks as sets of abstract bits (FS, IO, DIRECT_RECLAIM, ...)."""

    model_config = _STRICT

    bits: list[str]
    masks: dict[str, list[str]]
    # Calls that return a gfp mask: name -> index of a mask argument ANDed in, or -1.
    mask_functions: dict[str, int] = Field(default_factory=dict)
    # Allocator name -> index of its gfp argument.
    alloc_calls: dict[str, int] = Field(default_factory=dict)
    # Allocators that take no gfp and use GFP_KERNEL (or the mapping's mask).
    implicit_kernel_alloc: list[str] = Field(default_factory=list)

    @field_validator("masks")
    @classmethod
    def _known_bits(cls, masks: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        bits = set(info.data.get("bits", []))
        for name, members in masks.items():
            unknown = [b for b in members if b not in bits and b not in masks]
            if unknown:
                raise ValueError(f"mask {name} uses unknown bits {unknown}")
        return masks

    def expand(self, name: str) -> frozenset[str] | None:
        """Bits of a named mask (masks may reference other masks), or None if unknown."""
        return self._expanded.get(name)

    @cached_property
    def _expanded(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}

        def resolve(name: str, seen: frozenset[str]) -> frozenset[str]:
            if name in out:
                return out[name]
            if name in seen:
                raise ValueError(f"mask {name} refers to itself")
            acc: set[str] = set()
            for member in self.masks[name]:
                if member in self.masks:
                    acc |= resolve(member, seen | {name})
                else:
                    acc.add(member)
            out[name] = frozenset(acc)
            return out[name]

        for mask in self.masks:
            resolve(mask, frozenset())
        return out


class ScopeKind(BaseModel):
    """One memalloc scope pair (nofs, noio, noreclaim, pin, flags)."""

    model_config = _STRICT

    kind: str
    save: list[str]
    restore: list[str]
    pf_flag: str | None = None
    strips: list[str] = Field(default_factory=list)
    since: str | None = None
    until: str | None = None
    recursion_scope: bool = True

    @property
    def since_version(self) -> KernelVersion | None:
        """First release with this API."""
        return _version(self.since)


class ScopeHelper(BaseModel):
    """A function that opens or closes a scope on behalf of its caller."""

    model_config = _STRICT

    name: str
    kind: str
    role: Literal["open", "close"]
    since: str | None = None


class ScopeTables(BaseModel):
    """The memalloc scope API, guard forms and cross-function scope helpers."""

    model_config = _STRICT

    kinds: list[ScopeKind]
    pf_flags: dict[str, str]
    guard_classes: dict[str, str] = Field(default_factory=dict)
    helpers: list[ScopeHelper] = Field(default_factory=list)
    device_noio: list[str] = Field(default_factory=list)
    flags_semantics_change: str = "6.9"
    removed_flags: dict[str, str] = Field(default_factory=dict)

    @cached_property
    def save_kind(self) -> dict[str, str]:
        """save function name -> kind."""
        return {name: k.kind for k in self.kinds for name in k.save}

    @cached_property
    def restore_kind(self) -> dict[str, str]:
        """restore function name -> kind."""
        return {name: k.kind for k in self.kinds for name in k.restore}

    @cached_property
    def by_kind(self) -> dict[str, ScopeKind]:
        """kind -> its definition."""
        return {k.kind: k for k in self.kinds}

    @cached_property
    def helper_by_name(self) -> dict[str, ScopeHelper]:
        """helper name -> definition."""
        return {h.name: h for h in self.helpers}


class VmallocCall(BaseModel):
    """A vmalloc-family allocator and where its gfp argument sits."""

    model_config = _STRICT

    name: str
    family: Literal["vmalloc", "kvmalloc", "vmap", "percpu"]
    gfp_arg: int | None = None
    gfp_arg_by_arity: dict[int, int] = Field(default_factory=dict)

    def gfp_index(self, nargs: int) -> int | None:
        """Index of the gfp argument for a call with ``nargs`` arguments."""
        if nargs in self.gfp_arg_by_arity:
            return self.gfp_arg_by_arity[nargs]
        if self.gfp_arg is not None and self.gfp_arg < nargs:
            return self.gfp_arg
        return None


class VmallocTables(BaseModel):
    """The vmalloc family and the releases that changed its gfp semantics."""

    model_config = _STRICT

    calls: list[VmallocCall]
    nofs_supported_since: str
    kvmalloc_warn_since: str
    kvmalloc_kmalloc_only_since: str
    nonblocking_supported_since: str
    nofail_supported_since: str
    percpu_scope_aware_since: str
    implementation_paths: list[str]

    @cached_property
    def by_name(self) -> dict[str, VmallocCall]:
        """name (and its _noprof twin) -> definition."""
        out = {c.name: c for c in self.calls}
        out.update({f"{c.name}_noprof": c for c in self.calls})
        return out


class Transaction(BaseModel):
    """One filesystem's transaction begin/end calls."""

    model_config = _STRICT

    fs: str
    paths: list[str]
    begin: list[str]
    end: list[str]
    implies_nofs_since: str | None = None

    def implies_nofs(self, version: KernelVersion) -> bool:
        """Whether GFP_KERNEL inside this transaction is already NOFS on ``version``."""
        since = _version(self.implies_nofs_since)
        return since is not None and version >= since


class ReclaimLock(BaseModel):
    """A lock that reclaim may need: allocations under it must not enter the fs."""

    model_config = _STRICT

    name: str
    acquire: list[str]
    release: list[str]
    arg_contains: str | None = None
    paths: list[str] = Field(default_factory=list)
    needs_scope_since: str | None = None


class HeldLock(BaseModel):
    """An ordinary lock pair, paired by the first argument."""

    model_config = _STRICT

    acquire: list[str]
    release: list[str]


class Callback(BaseModel):
    """A callback that reclaim (or an atomic context) may invoke."""

    model_config = _STRICT

    kind: str
    fields: list[str]
    name_suffixes: list[str] = Field(default_factory=list)
    # Helpers named after the callback they serve ("evict_refill_and_join").
    name_prefixes: list[str] = Field(default_factory=list)
    atomic: str | None = None
    reclaim: bool = True


class ArgCondition(BaseModel):
    """Blocking only when an argument matches (e.g. write_inode_now(inode, 1)).

    index -1 means any argument.
    """

    model_config = _STRICT

    index: int
    values: list[str] = Field(default_factory=list)
    contains: list[str] = Field(default_factory=list)


class BlockingCall(BaseModel):
    """A group of calls that may block, with the kind of wait they do."""

    model_config = _STRICT

    kind: Literal[
        "sync-io", "writeback-wait", "wait", "sleep", "lock", "commit-wait",
        "rpc", "cluster-lock", "rcu-wait", "iput", "alloc", "dlm",
    ]
    names: list[str] = Field(default_factory=list)
    prefixes: list[str] = Field(default_factory=list)
    when_arg: ArgCondition | None = None
    bounded: bool = False


class ReclaimTables(BaseModel):
    """Reclaim-context callbacks, blocking calls, safe teardown and deferral."""

    model_config = _STRICT

    callbacks: list[Callback]
    blocking: list[BlockingCall]
    expected_teardown: list[str]
    deferral: list[str]
    gate_calls: dict[str, str]
    gate_flags: dict[str, str]
    gate_fields: dict[str, str] = Field(default_factory=dict)
    shrinker_stop_values: list[str]
    nonblocking_lock_suffixes: list[str]

    @cached_property
    def callback_by_field(self) -> dict[str, Callback]:
        """ops field name -> callback."""
        return {f: cb for cb in self.callbacks for f in cb.fields}

    @cached_property
    def _blocking_names(self) -> dict[str, BlockingCall]:
        return {n: b for b in self.blocking for n in b.names}

    def blocking_call(self, name: str) -> BlockingCall | None:
        """The blocking entry for a callee name (exact name, then prefix)."""
        hit = self._blocking_names.get(name)
        if hit is not None:
            return hit
        for entry in self.blocking:
            if any(name.startswith(p) for p in entry.prefixes):
                return entry
        return None


class PathClasses(BaseModel):
    """Path globs naming parts of the tree rules treat differently."""

    model_config = _STRICT

    filesystems: list[str]
    block_layer: list[str]
    writeback_io: list[str]
    nofs_everywhere: list[str]
    special_mappings: list[str]
    special_mapping_names: list[str] = Field(default_factory=list)
    core_mm: list[str]
    # Filesystems that stopped using GFP_NOFS: glob -> release since which
    # every transaction is a NOFS scope (XFS v6.9).
    scope_only: dict[str, str] = Field(default_factory=dict)

    @staticmethod
    def matches(path: str, globs: list[str]) -> bool:
        """Whether ``path`` falls under any glob (a trailing / means a directory)."""
        for glob in globs:
            if glob.endswith("/"):
                if path.startswith(glob):
                    return True
            elif fnmatch.fnmatchcase(path, glob):
                return True
        return False


class Release(BaseModel):
    """A mainline release and its date."""

    model_config = _STRICT

    version: str
    date: str


class ApiTables(BaseModel):
    """Every kernel API table the rules consult."""

    model_config = _STRICT

    gfp: GfpTables
    scope: ScopeTables
    vmalloc: VmallocTables
    transactions: list[Transaction]
    locks: list[ReclaimLock]
    held_locks: list[HeldLock] = Field(default_factory=list)
    reclaim: ReclaimTables
    paths: PathClasses
    attribute_macros: list[str]
    attribute_macros_with_args: list[str]
    releases: list[Release]
    mainline: str

    @cached_property
    def relevant_identifiers(self) -> frozenset[str]:
        """Every identifier the rules react to (a line without one cannot matter)."""
        names: set[str] = set(self.gfp.masks) | set(self.gfp.alloc_calls)
        names |= set(self.gfp.implicit_kernel_alloc) | set(self.gfp.mask_functions)
        for kind in self.scope.kinds:
            names |= set(kind.save) | set(kind.restore)
        names |= set(self.scope.pf_flags) | {h.name for h in self.scope.helpers}
        names |= set(self.scope.device_noio) | set(self.scope.guard_classes)
        names |= {c.name for c in self.vmalloc.calls}
        names |= {c.name + "_noprof" for c in self.vmalloc.calls}
        for txn in self.transactions:
            names |= set(txn.begin) | set(txn.end)
        for lock in self.locks:
            names |= set(lock.acquire) | set(lock.release)
        for held in self.held_locks:
            names |= set(held.acquire) | set(held.release)
        for cb in self.reclaim.callbacks:
            names |= set(cb.fields)
        for entry in self.reclaim.blocking:
            names |= set(entry.names)
        names |= set(self.reclaim.gate_calls) | set(self.reclaim.gate_flags)
        names |= set(self.reclaim.gate_fields) | set(self.reclaim.deferral)
        names |= {"mapping_set_gfp_mask", "inode_nohighmem", "iput", "igrab", "guard",
                  "scoped_guard", "current"}
        return frozenset(names)

    @property
    def mainline_version(self) -> KernelVersion:
        """The release whose behaviour applies when the target is unknown."""
        return KernelVersion.parse(self.mainline)

    @cached_property
    def txn_begin(self) -> dict[str, Transaction]:
        """begin call -> transaction."""
        return {name: t for t in self.transactions for name in t.begin}

    @cached_property
    def txn_end(self) -> dict[str, Transaction]:
        """end call -> transaction."""
        return {name: t for t in self.transactions for name in t.end}

    def transaction_for_path(self, path: str) -> Transaction | None:
        """The filesystem whose directory holds ``path``."""
        for txn in self.transactions:
            if txn.paths and PathClasses.matches(path, txn.paths):
                return txn
        return None

    @cached_property
    def held_acquire(self) -> dict[str, int]:
        """acquire call of an ordinary lock -> index of its pair."""
        return {n: i for i, h in enumerate(self.held_locks) for n in h.acquire}

    @cached_property
    def held_release(self) -> dict[str, int]:
        """release call of an ordinary lock -> index of its pair."""
        return {n: i for i, h in enumerate(self.held_locks) for n in h.release}

    @cached_property
    def lock_acquire(self) -> dict[str, list[ReclaimLock]]:
        """acquire call -> candidate locks."""
        out: dict[str, list[ReclaimLock]] = {}
        for lock in self.locks:
            for name in lock.acquire:
                out.setdefault(name, []).append(lock)
        return out

    @cached_property
    def lock_release(self) -> dict[str, list[ReclaimLock]]:
        """release call -> candidate locks."""
        out: dict[str, list[ReclaimLock]] = {}
        for lock in self.locks:
            for name in lock.release:
                out.setdefault(name, []).append(lock)
        return out
