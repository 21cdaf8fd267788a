"""EVICT-0xx: blocking work in reclaim-context callbacks (family ``evict-blocking``)."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from heuristics.context import ImageContext
from heuristics.cparse import Call, CFunction, node_text
from heuristics.gates import DIRECT_OK, FS_OK, KCOMPACTD, KSWAPD, LINKED, MEMALLOC, Facts
from heuristics.model import Category, Confidence, KernelVersion, Severity
from heuristics.queries import allocations, assigned_variable, blocking_entry, enclosing_statement
from heuristics.queries import facts as facts_for
from heuristics.registry import Hit, rule

_EVICT = frozenset({"evict_inode", "destroy_inode"})
_WAIT_KINDS = frozenset({"sync-io", "writeback-wait", "wait", "commit-wait", "rpc", "rcu-wait",
                         "sleep", "dlm"})


def _punts_in_reclaim(f: Facts) -> bool:
    """The path is known not to run from reclaim (PF_MEMALLOC / kswapd excluded)."""
    return f.get(MEMALLOC) is False or (f.get(KSWAPD) is False and f.get(FS_OK) is True)


def _callback_fns(ctx: ImageContext, kinds: frozenset[str]) -> Iterator[tuple[CFunction, str]]:
    for fn in ctx.functions:
        hit = sorted(ctx.callback_kinds(fn) & kinds)
        if hit:
            yield fn, hit[0]


def _role(ctx: ImageContext, fn: CFunction, kind: str) -> str:
    """"is ->evict_inode" or "is called from foo_evict_inode() (->evict_inode)"."""
    via = ctx.callback_via(fn, kind)
    words = _CALLBACK_WORDS.get(kind, kind)
    return f"is called from {via}() ({words})" if via else f"is {words}"


_CALLBACK_WORDS = {
    "evict_inode": "->evict_inode", "destroy_inode": "->destroy_inode",
    "release_folio": "->release_folio", "shrinker_scan": "the shrinker's scan_objects",
    "shrinker_count": "the shrinker's count_objects", "free_folio": "->free_folio",
    "dentry_release": "the dentry release callback", "drop_inode": "->drop_inode",
    "free_inode": "->free_inode",
}


@rule(id="EVICT-001", name="txn-in-evict", category=Category.EVICT_BLOCKING,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def txn_in_evict(ctx: ImageContext) -> Iterator[Hit]:
    """A transaction started from ->evict_inode or ->destroy_inode.

    ## What it does
    Flags a transaction begin (ext4/jbd2 handles, XFS, btrfs, f2fs, gfs2, nilfs2,
    sb_start_intwrite) or a cluster lock in an evict_inode/destroy_inode callback.
    An error on the no-delete path (inode still linked) and in destroy_inode.

    ## Why is this bad?
    evict_inode runs from the inode shrinker in kswapd and direct reclaim. A
    transaction can wait for log space or a commit that needs memory, i.e. for
    reclaim to make progress: syzbot's "possible deadlock in evict" (kswapd ->
    evict -> sb_internal), gfs2's deferred deletes under memory pressure, and XFS
    moving inactivation to inodegc workers (v5.15) all come from this.

    ## Example
    ```diff
    --- a/fs/foo/inode.c
    +++ b/fs/foo/inode.c
    @@ -200,6 +200,9 @@ static void foo_evict_inode(struct inode *inode)
     {
     	truncate_inode_pages_final(&inode->i_data);
    +	handle = ext4_journal_start(inode, EXT4_HT_INODE, 1);
    +	foo_update_atime(handle, inode);
    +	ext4_journal_stop(handle);
     	clear_inode(inode);
     }
     
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/inode.c
    +++ b/fs/foo/inode.c
    @@ -200,6 +200,7 @@ static void foo_evict_inode(struct inode *inode)
     {
     	truncate_inode_pages_final(&inode->i_data);
    +	queue_work(foo_wq, &FOO_I(inode)->update_work);	/* not from reclaim */
     	clear_inode(inode);
     }
     
    ```

    ## Known problems
    Transactions on the unlinked-inode delete path are long-standing practice
    (ext4, btrfs, nilfs2): a new one there is a warning, a refactor of an existing
    one is not flagged. Paths that first check PF_MEMALLOC/current_is_kswapd()
    and punt are not flagged.

    ## References
    - syzbot "[syzbot] [ext4?] possible deadlock in evict (3)" (2023)
    - 6a1c8f6dcf81 "gfs2: Defer deleting inodes under memory pressure"
    - "xfs: deferred inode inactivation" (Darrick Wong, v5.15)
    """
    begins = set(ctx.tables.txn_begin)
    for fn, kind in _callback_fns(ctx, _EVICT):
        for call in fn.calls:
            entry = ctx.tables.reclaim.blocking_call(call.name)
            cluster = entry is not None and entry.kind == "cluster-lock"
            if call.name not in begins and not cluster:
                continue
            f = facts_for(ctx, fn, call)
            if _punts_in_reclaim(f):
                continue
            delete_path = f.get(LINKED) is False
            severity = Severity.WARNING if delete_path and kind == "evict_inode" else Severity.ERROR
            where = ("on the unlinked-inode delete path" if delete_path
                     else "even for inodes that are still linked")
            yield Hit(
                line=call.line, function=fn.name, key=f"txn-evict:{call.name}",
                severity=severity,
                message=(f"{fn.ref} {_role(ctx, fn, kind)}, which runs from the "
                         f"inode shrinker in kswapd and direct reclaim; {call.name}() here "
                         f"({where}) can wait for log space or a commit that needs reclaim to "
                         "progress. Defer it (as XFS inodegc or the gfs2 delete workqueue do) "
                         "or skip it in reclaim"),
                suggestion="queue the work, or skip when current->flags & PF_MEMALLOC",
            )


def _waits(ctx: ImageContext, fn: CFunction) -> Iterator[tuple[Call, str, bool]]:
    """(call, wait kind, bounded) for blocking waits that are not expected teardown."""
    teardown = set(ctx.tables.reclaim.expected_teardown)
    for call in fn.calls:
        if call.name in teardown:
            continue
        entry = blocking_entry(ctx, fn, call)
        if entry is None or entry.kind not in _WAIT_KINDS:
            continue
        yield call, entry.kind, entry.bounded


@rule(id="EVICT-002", name="sync-io-in-reclaim-callback", category=Category.EVICT_BLOCKING,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def sync_io_in_reclaim_callback(ctx: ImageContext) -> Iterator[Hit]:
    """Synchronous IO or a wait in ->evict_inode, ->destroy_inode and friends.

    ## What it does
    Flags sync IO, writeback and commit waits, filemap_write_and_wait*,
    write_inode_now(inode, 1), flush_work and wait_event* in evict_inode,
    destroy_inode, free_folio and dentry release callbacks.

    ## Why is this bad?
    These callbacks are called by reclaim. If the IO or the commit they wait for
    needs memory, reclaim stalls behind itself. Miao Xie on a btrfs evict flush:
    it "will block the thread, which is reclaiming the memory".

    ## Example
    ```diff
    --- a/fs/foo/inode.c
    +++ b/fs/foo/inode.c
    @@ -200,6 +200,7 @@ static void foo_evict_inode(struct inode *inode)
     {
    +	filemap_write_and_wait(inode->i_mapping);
     	truncate_inode_pages_final(&inode->i_data);
     	clear_inode(inode);
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/inode.c
    +++ b/fs/foo/inode.c
    @@ -200,6 +200,6 @@ static void foo_evict_inode(struct inode *inode)
     {
     	truncate_inode_pages_final(&inode->i_data);
    +	/* dirty data was written back before the last iput */
     	clear_inode(inode);
     }
    ```

    ## Known problems
    Expected teardown (truncate_inode_pages_final, clear_inode, quota and
    fsnotify teardown) is never flagged; waits behind a PF_MEMALLOC or kswapd
    check that punts are skipped. Shrinkers and release_folio have their own
    rules (EVICT-004, EVICT-005).

    ## References
    - "Btrfs: fix deadlock on metadata reservation when evicting a inode" (Miao Xie)
    - "ext4: remove i_mutex lock in ext4_evict_inode to fix lockdep complaining" (2011)
    - "f2fs: avoid deadlock during evict after f2fs_gc" (2013)
    """
    kinds = frozenset({"evict_inode", "destroy_inode", "free_folio", "dentry_release"})
    for fn, kind in _callback_fns(ctx, kinds):
        for call, wait_kind, bounded in _waits(ctx, fn):
            if _punts_in_reclaim(facts_for(ctx, fn, call)):
                continue
            what = ("may need DLM communication (and so memory)" if wait_kind == "dlm"
                    else "waits for IO or a commit")
            yield Hit(
                line=call.line, function=fn.name, key=f"wait:{kind}:{call.name}",
                confidence=Confidence.LOW if bounded else None,
                message=(f"{call.name}() {what} in {fn.ref}, which "
                         f"{_role(ctx, fn, kind)} and is called by reclaim; if that IO "
                         "needs memory, reclaim stalls behind itself. Can it be avoided or "
                         "moved to a worker?"),
            )
        if kind not in _EVICT:
            continue
        for call in fn.calls:
            entry = blocking_entry(ctx, fn, call)
            if entry is None or entry.kind != "lock" or call.name in ctx.tables.txn_begin:
                continue
            if _punts_in_reclaim(facts_for(ctx, fn, call)):
                continue
            yield Hit(
                line=call.line, function=fn.name, key=f"lock:{kind}:{call.name}",
                confidence=Confidence.LOW,
                message=(f"{call.name}() in {fn.ref} ({_role(ctx, fn, kind)}) can "
                         "sleep on a lock that a task blocked in reclaim may hold (or that is "
                         "held across IO reclaim waits for); is it needed during eviction?"),
            )


@rule(id="EVICT-003", name="sleep-in-atomic-inode-callback", category=Category.EVICT_BLOCKING,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def sleep_in_atomic_inode_callback(ctx: ImageContext) -> Iterator[Hit]:
    """Something that sleeps in ->drop_inode or ->free_inode.

    ## What it does
    Flags blocking locks, IO, waits, iput() and allocations without a
    non-blocking mask in drop_inode (called with inode->i_lock held) and
    free_inode (an RCU callback).

    ## Why is this bad?
    Neither context may sleep: ->drop_inode runs under a spinlock from
    iput_final(), ->free_inode from RCU softirq context. Sleeping there is a bug
    in any configuration; gfs2 punts its delete work to a workqueue instead.

    ## Example
    ```diff
    --- a/fs/foo/super.c
    +++ b/fs/foo/super.c
    @@ -80,5 +80,6 @@ static int foo_drop_inode(struct inode *inode)
     {
    +	mutex_lock(&FOO_I(inode)->lock);
     	return generic_drop_inode(inode);
     }
     
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/super.c
    +++ b/fs/foo/super.c
    @@ -80,5 +80,6 @@ static int foo_drop_inode(struct inode *inode)
     {
    +	spin_lock(&FOO_I(inode)->state_lock);
     	return generic_drop_inode(inode);
     }
     
    ```

    ## Known problems
    Only direct calls are seen; a sleeping helper is found in tree mode.

    ## References
    - Documentation/filesystems/vfs.rst (drop_inode, free_inode)
    """
    for fn, kind in _callback_fns(ctx, frozenset({"drop_inode", "free_inode"})):
        why = next(cb.atomic for cb in ctx.tables.reclaim.callbacks if cb.kind == kind)
        for call in fn.calls:
            entry = blocking_entry(ctx, fn, call)
            reason = None
            if entry is not None:
                reason = f"{call.name}() may sleep"
            for alloc in allocations(ctx, fn):
                if alloc.call is call and (alloc.gfp is None or not alloc.gfp.nonblocking):
                    reason = f"{call.name}() allocates with a mask that may sleep"
            if reason is None:
                continue
            yield Hit(
                line=call.line, function=fn.name, key=f"atomic:{kind}:{call.name}",
                message=f"{why}; {reason} here in {fn.ref}",
            )


@rule(id="EVICT-004", name="shrinker-blocking", category=Category.EVICT_BLOCKING,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def shrinker_blocking(ctx: ImageContext) -> Iterator[Hit]:
    """Blocking locks, IO, transactions or allocations in a shrinker.

    ## What it does
    Flags in scan_objects: blocking locks, transaction starts, sync IO, waits and
    GFP_KERNEL/NOFAIL allocations not preceded by a ``sc->gfp_mask & __GFP_FS``
    check that bails out; in count_objects (an error): anything that blocks.

    ## Why is this bad?
    Shrinkers run inside whatever allocation triggered reclaim. If that caller
    holds this lock or a transaction, the shrinker deadlocks against it (Lustre
    LU-10859: a shrinker mutex, a jbd2 start, and a commit waiting on the
    allocating thread). super_cache_scan and the XFS quota shrinker bail when
    __GFP_FS is missing and use trylocks.

    ## Example
    ```diff
    --- a/fs/foo/cache.c
    +++ b/fs/foo/cache.c
    @@ -90,6 +90,7 @@ static unsigned long foo_cache_scan_objects(struct shrinker *s, struct shrink_control *sc)
     {
     	unsigned long freed = 0;
     
    +	mutex_lock(&foo_cache_lock);
     	freed = foo_cache_prune(sc->nr_to_scan);
     	mutex_unlock(&foo_cache_lock);
     	return freed;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/cache.c
    +++ b/fs/foo/cache.c
    @@ -90,6 +90,9 @@ static unsigned long foo_cache_scan_objects(struct shrinker *s, struct shrink_control *sc)
     {
     	unsigned long freed = 0;
     
    +	if (!(sc->gfp_mask & __GFP_FS))
    +		return SHRINK_STOP;
    +	mutex_lock(&foo_cache_lock);
     	freed = foo_cache_prune(sc->nr_to_scan);
     	mutex_unlock(&foo_cache_lock);
     	return freed;
    ```

    ## Known problems
    A mutex private to the shrinker and never held around allocations is safe;
    the rule cannot tell and asks.

    ## References
    - Lustre LU-10859 (lu_cache_shrink mutex vs jbd2)
    - fs/super.c super_cache_scan() (__GFP_FS check, trylock)
    """
    begins = set(ctx.tables.txn_begin)
    for fn, kind in _callback_fns(ctx, frozenset({"shrinker_scan", "shrinker_count"})):
        count = kind == "shrinker_count"
        for call in fn.calls:
            f = facts_for(ctx, fn, call)
            if not count and f.get(FS_OK) is True:
                continue
            entry = blocking_entry(ctx, fn, call)
            what = None
            if call.name in begins:
                what = f"{call.name}() starts a transaction"
            elif entry is not None and entry.kind in ("lock", "cluster-lock"):
                what = f"{call.name}() can sleep on a lock the allocating task may hold"
            elif entry is not None and entry.kind in _WAIT_KINDS:
                what = f"{call.name}() waits for IO or other work"
            if what is None:
                continue
            yield Hit(
                line=call.line, function=fn.name, key=f"shrinker:{kind}:{call.name}",
                severity=Severity.ERROR if count else None,
                message=(f"{what} in {fn.ref}, which {_role(ctx, fn, kind)}. Shrinkers "
                         "run inside whatever allocation triggered reclaim; if that caller holds "
                         "this lock or a transaction, this deadlocks. Bail when sc->gfp_mask "
                         "lacks __GFP_FS and use a trylock"),
                suggestion="if (!(sc->gfp_mask & __GFP_FS)) return SHRINK_STOP; mutex_trylock()",
            )
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is not None and (gfp.nonblocking or not (gfp.has("FS") or gfp.nofail)):
                continue
            if not count and facts_for(ctx, fn, alloc.call).get(FS_OK) is True and not (
                    gfp is not None and gfp.nofail):
                continue
            yield Hit(
                line=alloc.call.line, function=fn.name, key=f"shrinker-alloc:{alloc.call.name}",
                severity=Severity.ERROR if count else None,
                message=(f"{alloc.call.name}() in {fn.ref} allocates with a mask "
                         "that can recurse into reclaim from inside a shrinker; use GFP_NOWAIT "
                         "or allocate before registering"),
            )


def _release_facts_ok(f: Facts, kcompactd_known: bool) -> list[str]:
    missing = []
    if f.get(FS_OK) is not True:
        missing.append("the gfp allows __GFP_FS")
    if f.get(DIRECT_OK) is not True and f.get(FS_OK) is not True:
        missing.append("direct reclaim is allowed")
    if f.get(KSWAPD) is not False:
        missing.append("this is not kswapd")
    if kcompactd_known and f.get(KCOMPACTD) is not False:
        missing.append("this is not kcompactd")
    return missing


@rule(id="EVICT-005", name="release-folio-ignores-gfp", category=Category.EVICT_BLOCKING,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def release_folio_ignores_gfp(ctx: ImageContext) -> Iterator[Hit]:
    """->release_folio that waits without honouring its gfp and caller.

    ## What it does
    Flags waits (writeback, commits, RPCs, page-bit waits, blocking locks) in a
    release_folio/releasepage callback that are not guarded by checks that the
    gfp allows __GFP_FS (and direct reclaim) and that the caller is neither
    kswapd nor kcompactd.

    ## Why is this bad?
    release_folio is called from reclaim and compaction with the caller's gfp.
    Waiting when the mask forbids it, or from kcompactd, can deadlock: NFS
    loop-back mounts hung with nfsd in reclaim waiting on itself ("NFS: fix
    nfs_release_folio() to not deadlock via kcompactd writeback", v6.14).
    gfpflags_allow_blocking() is not a GFP_KERNEL test (Dave Chinner, 2022).

    ## Example
    ```diff
    --- a/fs/foo/file.c
    +++ b/fs/foo/file.c
    @@ -450,6 +450,8 @@ static bool foo_release_folio(struct folio *folio, gfp_t gfp)
     {
     	if (folio_test_private(folio)) {
    +		if (foo_wb_folio(folio) < 0)
    +			return false;
    +		folio_wait_writeback(folio);
     	}
     	return true;
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/file.c
    +++ b/fs/foo/file.c
    @@ -450,6 +450,10 @@ static bool foo_release_folio(struct folio *folio, gfp_t gfp)
     {
     	if (folio_test_private(folio)) {
    +		if ((current_gfp_context(gfp) & GFP_KERNEL) != GFP_KERNEL ||
    +		    current_is_kswapd() || current_is_kcompactd())
    +			return false;
    +		folio_wait_writeback(folio);
     	}
     	return true;
     }
    ```

    ## Known problems
    current_is_kcompactd() exists from v6.14; on older targets a missing
    kcompactd check alone is advice. Bounded waits get lower confidence.

    ## References
    - "NFS: fix nfs_release_folio() to not deadlock via kcompactd writeback" (Mike Snitzer)
    - 95905446 "NFS: avoid deadlocks with loop-back mounted NFS filesystems" (NeilBrown, 2014)
    - Dave Chinner, "memcg: calling reclaim_high(GFP_KERNEL) in GFP_NOFS context deadlocks" (2022)
    """
    kcompactd_since = KernelVersion.parse("6.14")
    for fn, _kind in _callback_fns(ctx, frozenset({"release_folio"})):
        for call in fn.calls:
            entry = blocking_entry(ctx, fn, call)
            if entry is None or entry.kind not in (_WAIT_KINDS | {"lock", "cluster-lock"}):
                continue
            f = facts_for(ctx, fn, call)
            missing = _release_facts_ok(f, kcompactd_known=True)
            if not missing:
                continue
            only_kcompactd = missing == ["this is not kcompactd"]
            severity = None
            if only_kcompactd and ctx.version < kcompactd_since:
                severity = Severity.ADVICE
            yield Hit(
                line=call.line, function=fn.name, key=f"release-wait:{call.name}",
                severity=severity,
                confidence=Confidence.LOW if entry.bounded else None,
                message=(f"{call.name}() in {fn.ref} (->release_folio) waits without "
                         f"checking that {' and that '.join(missing)}; release_folio is called "
                         "from reclaim and compaction with the caller's gfp, so waiting here can "
                         "deadlock. Return false instead"),
                suggestion=("if ((current_gfp_context(gfp) & GFP_KERNEL) != GFP_KERNEL || "
                            "current_is_kswapd() || current_is_kcompactd()) return false;"),
            )


def _in_noreclaim_scope(ctx: ImageContext, fn: CFunction, line: int) -> bool:
    return any(r.scope_kind == "noreclaim" for r in ctx.regions_at(fn, line))


@rule(id="EVICT-006", name="nofail-in-reclaim", category=Category.EVICT_BLOCKING,
      severity=Severity.ERROR, confidence=Confidence.MEDIUM)
def nofail_in_reclaim(ctx: ImageContext) -> Iterator[Hit]:
    """__GFP_NOFAIL (or a blocking mempool_alloc) from reclaim context.

    ## What it does
    Flags __GFP_NOFAIL allocations and mempool_alloc() with a blocking mask in
    reclaim callbacks (evict/destroy_inode, shrinkers, release_folio) and inside
    memalloc_noreclaim_save() sections.

    ## Why is this bad?
    A PF_MEMALLOC task cannot reclaim, so a NOFAIL allocation there can only loop;
    the allocator warns about it since v6.12 (903edea6c53f). XFS hit this with
    dquot flushing from xfsaild and the dquot shrinker and fixed it by attaching
    the buffer earlier ("since dqflush can be called from reclaim context").

    ## Example
    ```diff
    --- a/fs/foo/quota.c
    +++ b/fs/foo/quota.c
    @@ -300,6 +300,7 @@ static unsigned long foo_dquot_scan_objects(struct shrinker *s, struct shrink_control *sc)
     	unsigned long freed = 0;
     
     	list_for_each_entry_safe(dq, n, &foo_dquots, lru) {
    +		bp = kmem_cache_alloc(foo_buf_cache, GFP_NOFS | __GFP_NOFAIL);
     		freed += foo_dquot_flush(dq, bp);
     	}
     	return freed;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/quota.c
    +++ b/fs/foo/quota.c
    @@ -300,6 +300,9 @@ static unsigned long foo_dquot_scan_objects(struct shrinker *s, struct shrink_control *sc)
     	unsigned long freed = 0;
     
     	list_for_each_entry_safe(dq, n, &foo_dquots, lru) {
    +		bp = kmem_cache_alloc(foo_buf_cache, GFP_NOWAIT);
    +		if (!bp)
    +			break;
     		freed += foo_dquot_flush(dq, bp);
     	}
     	return freed;
    ```

    ## Known problems
    Only direct calls are seen in hunk mode; helpers are followed in tree mode.

    ## References
    - 903edea6c53f "mm: warn about illegal __GFP_NOFAIL usage in a more appropriate location and manner"
    - ca378189fdfa "xfs: convert quotacheck to attach dquot buffers"
    """
    kinds = frozenset({"evict_inode", "destroy_inode", "shrinker_scan", "shrinker_count",
                       "release_folio", "free_folio"})
    for fn in ctx.functions:
        cb = sorted(ctx.callback_kinds(fn) & kinds)
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is None:
                continue
            nofail = gfp.nofail
            mempool = alloc.call.name == "mempool_alloc" and not gfp.nonblocking
            if not (nofail or mempool):
                continue
            if cb:
                where = f"{fn.ref} {_role(ctx, fn, cb[0])}"
            elif _in_noreclaim_scope(ctx, fn, alloc.call.line):
                where = f"{fn.ref} runs it inside memalloc_noreclaim_save()"
            else:
                continue
            what = "__GFP_NOFAIL" if nofail else "a blocking mempool_alloc()"
            yield Hit(
                line=alloc.call.line, function=fn.name, key=f"nofail-reclaim:{alloc.call.name}",
                message=(f"{what} from reclaim context ({where}) can't reclaim and loops "
                         "forever; the allocator warns about it since v6.12. Pre-allocate "
                         "earlier or handle failure"),
            )


@rule(id="EVICT-007", name="nofail-illegal", category=Category.EVICT_BLOCKING,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def nofail_illegal(ctx: ImageContext) -> Iterator[Hit]:
    """__GFP_NOFAIL with a non-blocking mask, a high order, or a NULL check.

    ## What it does
    Flags __GFP_NOFAIL combined with GFP_ATOMIC/GFP_NOWAIT (no direct reclaim;
    an error, a warning before v6.12), NOFAIL page allocations of order > 1
    (warning), and a NULL check right after a NOFAIL allocation (advice).

    ## Why is this bad?
    NOFAIL promises the allocation never fails, which needs a blockable mask:
    since v6.12 (903edea6c53f, "mm: document __GFP_NOFAIL must be blockable") the
    allocator warns when it isn't. Costly orders with NOFAIL are "_highly_
    discouraged" and warn. A NULL check after NOFAIL is dead code that suggests
    the author expected failure.

    ## Example
    ```diff
    --- a/fs/foo/extent.c
    +++ b/fs/foo/extent.c
    @@ -70,6 +70,6 @@ static struct foo_extent *foo_extent_new(void)
     {
     	struct foo_extent *ex;
     
    -	ex = kmem_cache_alloc(foo_extent_cache, GFP_ATOMIC);
    +	ex = kmem_cache_alloc(foo_extent_cache, GFP_ATOMIC | __GFP_NOFAIL);
     	return ex;
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/extent.c
    +++ b/fs/foo/extent.c
    @@ -70,6 +70,6 @@ static struct foo_extent *foo_extent_new(void)
     {
     	struct foo_extent *ex;
     
    -	ex = kmem_cache_alloc(foo_extent_cache, GFP_ATOMIC);
    +	ex = kmem_cache_alloc(foo_extent_cache, GFP_NOFS | __GFP_NOFAIL);
     	return ex;
     }
    ```

    ## Known problems
    NULL checks can be defensive where NOFAIL could fail (vmalloc with a fatal
    signal before the 2024 fix): advice only.

    ## References
    - 903edea6c53f (v6.12); "mm: document __GFP_NOFAIL must be blockable"
    - "mm: also update the doc for __GFP_NOFAIL with order > 1"
    - "btrfs: allocate btrfs_io_context without GFP_NOFAIL" (2022)
    """
    warned = KernelVersion.parse("6.12")
    for fn in ctx.functions:
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is None or not gfp.nofail:
                continue
            call = alloc.call
            if gfp.nonblocking:
                yield Hit(
                    line=call.line, function=fn.name, key=f"nofail-atomic:{call.name}",
                    severity=Severity.ERROR if ctx.version >= warned else Severity.WARNING,
                    message=(f"__GFP_NOFAIL needs a blockable mask (the allocator warns since "
                             f"v6.12); {gfp.describe()} in {call.name}() in {fn.ref} "
                             "has no direct reclaim. Use a blocking mask or handle failure"),
                )
                continue
            order = _order_arg(ctx, call)
            if order is not None and order > 1:
                yield Hit(
                    line=call.line, function=fn.name, key=f"nofail-order:{call.name}",
                    severity=Severity.WARNING,
                    message=(f"{call.name}() with __GFP_NOFAIL and order {order} in "
                             f"{fn.ref} triggers an allocator warning; NOFAIL for "
                             "costly orders is highly discouraged"),
                )
            var = assigned_variable(call)
            if var and _null_checked_next(call.node, var):
                yield Hit(
                    line=call.line, function=fn.name, key=f"nofail-nullcheck:{call.name}:{var}",
                    severity=Severity.ADVICE,
                    message=(f"{call.name}() with __GFP_NOFAIL never returns NULL; the check of "
                             f"{var} that follows in {fn.ref} is dead code"),
                )


_ORDER_ARG = {"alloc_pages": 1, "__get_free_pages": 1, "folio_alloc": 1, "alloc_pages_node": 2}


def _order_arg(ctx: ImageContext, call: Call) -> int | None:
    index = _ORDER_ARG.get(call.name)
    if index is None or index >= len(call.args):
        return None
    text = call.arg_texts[index]
    return int(text) if text.isdigit() else None


def _null_checked_next(node: Node, var: str) -> bool:
    stmt = enclosing_statement(node)
    nxt = stmt.next_named_sibling
    while nxt is not None and nxt.type == "comment":
        nxt = nxt.next_named_sibling
    if nxt is None or nxt.type != "if_statement":
        return False
    cond = nxt.child_by_field_name("condition")
    text = "".join(node_text(cond).split()) if cond is not None else ""
    return text in (f"(!{var})", f"({var}==NULL)", f"(NULL=={var})", f"(unlikely(!{var}))",
                    f"(IS_ERR_OR_NULL({var}))")


@rule(id="EVICT-008", name="final-iput-in-unsafe-context", category=Category.EVICT_BLOCKING,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def final_iput_in_unsafe_context(ctx: ImageContext) -> Iterator[Hit]:
    """iput() that may drop the last reference where eviction must not run.

    ## What it does
    Flags iput() while a transaction or reclaim-shared lock is held, and in
    shrinkers and release_folio, unless the function also took its own
    reference with igrab() or uses a delayed-iput helper.

    ## Why is this bad?
    If this is the last reference, iput() runs ->evict_inode right here, with the
    lock or transaction held, and eviction may need IO or a transaction itself.
    ceph fixed exactly this ("ceph: avoid iput_final() while holding mutex or in
    dispatch thread": "iput_final() needs to wait for in-flight I/O"); btrfs has
    delayed iputs for it.

    ## Example
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -50,6 +50,7 @@ static int btrfs_foo_drop(struct btrfs_root *root, struct inode *inode)
     	trans = btrfs_join_transaction(root);
     	if (IS_ERR(trans))
     		return PTR_ERR(trans);
    +	iput(inode);
     	btrfs_end_transaction(trans);
     	return 0;
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -50,6 +50,7 @@ static int btrfs_foo_drop(struct btrfs_root *root, struct inode *inode)
     	trans = btrfs_join_transaction(root);
     	if (IS_ERR(trans))
     		return PTR_ERR(trans);
    +	btrfs_add_delayed_iput(BTRFS_I(inode));
     	btrfs_end_transaction(trans);
     	return 0;
     }
    ```

    ## Known problems
    Whether a reference is the last one is rarely visible; an igrab() in the same
    function is taken as proof it is not.

    ## References
    - "ceph: avoid iput_final() while holding mutex or in dispatch thread" (v5.2-rc4)
    - OpenZFS issue #3055 "iput_async() can deadlock in direct reclaim"
    """
    unsafe = frozenset({"shrinker_scan", "release_folio", "free_folio"})
    for fn in ctx.functions:
        iputs = [c for c in fn.calls if c.name == "iput"]
        if not iputs or any(c.name == "igrab" for c in fn.calls):
            continue
        cb = sorted(ctx.callback_kinds(fn) & unsafe)
        for call in iputs:
            held = [r for r in ctx.regions_at(fn, call.line) if r.kind in ("txn", "lock", "held")]
            if held:
                what = (held[-1].label if held[-1].kind != "held"
                        else f"the lock {held[-1].label}")
                where = f"with {what} held ({held[-1].open_call}() at line " \
                        f"{held[-1].open_line})"
            elif cb:
                where = f"from {_CALLBACK_WORDS[cb[0]]}"
            else:
                continue
            yield Hit(
                line=call.line, function=fn.name, key="iput",
                message=(f"if this is the last reference, iput() runs ->evict_inode right here "
                         f"in {fn.ref} {where}; defer the iput (delayed/async iput) "
                         "or take it after the lock is dropped"),
            )
