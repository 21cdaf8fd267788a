"""MEMALLOC-0xx: memalloc_*_save/restore pairing (family ``memalloc-unpaired``)."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from heuristics.context import ChangeContext, ImageContext
from heuristics.cparse import Call, CFunction, node_text
from heuristics.model import Category, Confidence, KernelVersion, Severity
from heuristics.pairing import PairingReport, pair_scopes
from heuristics.registry import Hit, rule

_THREAD_HINTS = ("thread", "worker", "kthread", "kjournald", "daemon", "_main", "_loop")


def _pairing(ctx: ImageContext, fn: CFunction) -> PairingReport:
    cache: dict[int, PairingReport] = ctx.__dict__.setdefault("_pairing", {})
    key = id(fn)
    if key not in cache:
        cache[key] = pair_scopes(fn, ctx.tables.scope, ctx.patch.openers, ctx.patch.closers)
    return cache[key]


def _has_scope_calls(ctx: ImageContext, fn: CFunction) -> bool:
    scope = ctx.tables.scope
    return any(c.name in scope.save_kind or c.name in scope.restore_kind
               or c.name in ctx.patch.openers for c in fn.calls)


def _restore_state(ctx: ImageContext) -> str:
    change = KernelVersion.parse(ctx.tables.scope.flags_semantics_change)
    return "new" if ctx.version >= change else "old"


@rule(id="MEMALLOC-001", name="save-without-restore-on-path", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def save_without_restore_on_path(ctx: ImageContext) -> Iterator[Hit]:
    """A path leaves the function with a memalloc scope still open.

    ## What it does
    Follows every path from ``x = memalloc_<kind>_save()`` and flags a
    ``return`` (or, for a complete function, its end) reached without
    memalloc_<kind>_restore(x). Gotos are followed to their labels, loops and
    switches are handled, and "save if X ... restore if X" is understood.

    ## Why is this bad?
    The task keeps PF_MEMALLOC_NOFS (or NOIO) set after the function returns, so
    every later allocation by this task silently becomes NOFS/NOIO, reclaim
    weakens for the rest of the syscall or the thread's life, and lockdep stops
    seeing real recursion. "bcachefs: Fix missing memalloc_nofs_restore()" is a
    real instance.

    ## Example
    ```diff
    --- a/fs/foo/move.c
    +++ b/fs/foo/move.c
    @@ -140,8 +140,10 @@ static int foo_lock_two(struct address_space *m1, struct address_space *m2)
     	struct page *page[2];
    +	unsigned int flags;
     
    +	flags = memalloc_nofs_save();
     	page[0] = grab_cache_page_write_begin(m1, index1, 0);
     	if (!page[0])
     		return -ENOMEM;
     	page[1] = grab_cache_page_write_begin(m2, index2, 0);
    +	memalloc_nofs_restore(flags);
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/move.c
    +++ b/fs/foo/move.c
    @@ -140,8 +140,12 @@ static int foo_lock_two(struct address_space *m1, struct address_space *m2)
     	struct page *page[2];
    +	unsigned int flags;
     
    +	flags = memalloc_nofs_save();
     	page[0] = grab_cache_page_write_begin(m1, index1, 0);
    -	if (!page[0])
    +	if (!page[0]) {
    +		memalloc_nofs_restore(flags);
     		return -ENOMEM;
    +	}
     	page[1] = grab_cache_page_write_begin(m2, index2, 0);
    +	memalloc_nofs_restore(flags);
    ```

    ## Known problems
    On a hunk, only paths inside the visible fragment are followed; a goto to a
    label that is not visible is not judged. Cookies stored in an object or
    returned (jbd2 handles, XFS transactions, blk_mq freeze memflags) are
    cross-function scopes and belong to MEMALLOC-007.

    ## References
    - "bcachefs: Fix missing memalloc_nofs_restore()"
    - include/linux/sched/mm.h (memalloc_nofs_save kernel-doc)
    - "[PATCH] block: Set memalloc_noio to false on device_add_disk() error path" (2023-12-11)
    """
    for fn in ctx.functions:
        if not _has_scope_calls(ctx, fn):
            continue
        report = _pairing(ctx, fn)
        for leak in report.leaks:
            scope = leak.scope
            where = "falls off the end" if leak.how == "end" else "returns"
            line = leak.line if leak.how != "end" else scope.line
            flag = {"nofs": "PF_MEMALLOC_NOFS", "noio": "PF_MEMALLOC_NOIO",
                    "noreclaim": "PF_MEMALLOC", "pin": "PF_MEMALLOC_PIN"}.get(scope.kind,
                                                                              "the scope flag")
            if scope.save_name in ctx.tables.scope.save_kind:
                end = f"memalloc_{scope.kind}_restore({scope.cookie})"
            else:
                closer = next((name for name, kind in ctx.patch.closers.items()
                               if kind == scope.kind and name.replace("unfreeze", "freeze")
                               .replace("_up_", "_down_") == scope.save_name), None)
                end = f"{closer}(..., {scope.cookie})" if closer else f"the matching " \
                    f"release of {scope.cookie}"
            yield Hit(
                line=line, function=fn.name,
                key=f"leak:{scope.cookie}:{scope.kind}:{leak.how}:"
                    f"{' '.join(ctx.text(leak.line).split())}",
                message=(f"this path {where} from {fn.ref} with {flag} still set "
                         f"by {scope.save_name}() at line {scope.line}; every later allocation "
                         f"by this task silently becomes {scope.kind.upper()}. Call {end} "
                         "before returning or use the common exit label"),
                suggestion=f"{end} on this path",
            )


@rule(id="MEMALLOC-002", name="restore-kind-mismatch", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def restore_kind_mismatch(ctx: ImageContext) -> Iterator[Hit]:
    """A cookie from one kind of save handed to another kind's restore.

    ## What it does
    Flags memalloc_X_restore(cookie) where cookie came from memalloc_Y_save() and
    X differs from Y (nofs/noio/noreclaim/pin).

    ## Why is this bad?
    Before v6.9 restore rewrites its own flag from the cookie: a NOIO cookie given
    to memalloc_nofs_restore() ORs PF_MEMALLOC_NOIO into the task flags, where it
    stays. Since v6.9 (3f6d5e6a468d) restore clears the bits the cookie names:
    NOIO ends and NOFS stays set forever. Both leave the task in the wrong mode.

    ## Example
    ```diff
    --- a/fs/foo/io.c
    +++ b/fs/foo/io.c
    @@ -10,5 +10,7 @@ static int foo_submit(struct foo_dev *dev)
     	int ret;
     
    +	flags = memalloc_noio_save();
     	ret = foo_do_submit(dev);
    +	memalloc_nofs_restore(flags);
     	return ret;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/io.c
    +++ b/fs/foo/io.c
    @@ -10,5 +10,7 @@ static int foo_submit(struct foo_dev *dev)
     	int ret;
     
    +	flags = memalloc_noio_save();
     	ret = foo_do_submit(dev);
    +	memalloc_noio_restore(flags);
     	return ret;
    ```

    ## Known problems
    memalloc_flags_save()/restore() take any kind and are not compared.

    ## References
    - include/linux/sched/mm.h (both eras of the save/restore semantics)
    - 3f6d5e6a468d "mm: introduce memalloc_flags_{save,restore}"
    """
    era = _restore_state(ctx)
    for fn in ctx.functions:
        if not _has_scope_calls(ctx, fn):
            continue
        for bad in _pairing(ctx, fn).kind_mismatches:
            effect = ("ORs the save's flag into the task flags, where it stays" if era == "old"
                      else "clears the save's flag and leaves the other one set for good")
            yield Hit(
                line=bad.line, function=fn.name,
                key=f"kind:{bad.scope.cookie}:{bad.scope.kind}:{bad.restore_name}",
                message=(f"{bad.scope.cookie} came from {bad.scope.save_name}() (line "
                         f"{bad.scope.line}) but goes to {bad.restore_name}() in "
                         f"{fn.ref}; on this kernel that {effect}. Use "
                         f"memalloc_{bad.scope.kind}_restore()"),
                suggestion=f"memalloc_{bad.scope.kind}_restore({bad.scope.cookie})",
            )


@rule(id="MEMALLOC-003", name="restore-wrong-cookie", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ERROR, confidence=Confidence.MEDIUM)
def restore_wrong_cookie(ctx: ImageContext) -> Iterator[Hit]:
    """A restore of a value that did not come from the matching save.

    ## What it does
    Flags memalloc_*_restore(v) where v is not a variable set by a save in this
    function while some other variable holds the save's cookie, and restores of
    computed expressions.

    ## Why is this bad?
    The caller's scope is not put back as it was: depending on the value the
    flag is cleared inside an outer scope or left set after this one. The XFS
    xfs_trans_roll restore of a zeroed cookie cleared PF_MEMALLOC_NOFS inside
    xfs_inodegc_worker's scope on 6.1/6.6 stable trees.

    ## Example
    ```diff
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -70,5 +70,7 @@ static int foo_trans_reserve(struct foo_trans *tp)
     	int error;
     
    +	nofs = memalloc_nofs_save();
     	error = foo_reserve(tp);
    +	memalloc_nofs_restore(flags);
     	return error;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -70,5 +70,7 @@ static int foo_trans_reserve(struct foo_trans *tp)
     	int error;
     
    +	nofs = memalloc_nofs_save();
     	error = foo_reserve(tp);
    +	memalloc_nofs_restore(nofs);
     	return error;
    ```

    ## Known problems
    Restores of a field or parameter are cross-function carriers (MEMALLOC-007);
    literals belong to MEMALLOC-004.

    ## References
    - "[PATCH] xfs: fix incorrect context handling in xfs_trans_roll" (Wenwu Hou, 2026-01-16)
    - "[PATCH RFC 6.1/6.6 CANDIDATE] mm: introduce memalloc_flags_{save,restore}" (Long Li, 2025-11-04)
    """
    for fn in ctx.functions:
        if not _has_scope_calls(ctx, fn):
            continue
        cookies = set().union(*(
            {s.cookie for s in _pairing(ctx, frag).saves} for frag in ctx.fragments(fn)))
        for bad in _pairing(ctx, fn).foreign:
            params = {n for _, n in fn.params}
            if bad.arg in params or not cookies or bad.arg in cookies:
                continue
            saved = ", ".join(sorted(cookies))
            yield Hit(
                line=bad.line, function=fn.name, key=f"foreign:{bad.restore_name}:{bad.arg}",
                message=(f"{bad.restore_name}({bad.arg}) in {fn.ref} restores a "
                         f"value no save produced here (the cookie is in {saved}), so the "
                         "caller's scope isn't put back as it was"),
                suggestion=f"{bad.restore_name}({saved.split(', ')[0]})",
            )
        for call in fn.calls:
            if call.name not in ctx.tables.scope.restore_kind or len(call.args) != 1:
                continue
            arg = call.args[0]
            if arg.type in ("binary_expression", "conditional_expression", "call_expression"):
                yield Hit(
                    line=call.line, function=fn.name, key=f"expr:{call.name}:{call.arg_texts[0]}",
                    message=(f"{call.name}({call.arg_texts[0]}) in {fn.ref} restores a "
                             "computed value; pass exactly the cookie the paired save returned"),
                )


@rule(id="MEMALLOC-004", name="restore-literal", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def restore_literal(ctx: ImageContext) -> Iterator[Hit]:
    """memalloc_*_restore() of a literal (0 or a PF_* flag).

    ## What it does
    Flags memalloc_*_restore(0), memalloc_*_restore(PF_MEMALLOC_NOFS) and other
    constants. An error on targets before v6.9, a warning from v6.9 on.

    ## Why is this bad?
    Before v6.9 restore(0) clears PF_MEMALLOC_NOFS even inside a caller's scope.
    Since 3f6d5e6a468d (v6.9) it is a no-op, but stable trees without that commit
    still clear the flag: this is how the 6.1/6.6 XFS backport of "xfs: don't
    use current->journal_info" broke xfs_inodegc_worker's NOFS scope.

    ## Example
    ```diff
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -90,5 +90,6 @@ static void foo_trans_free(struct foo_trans *tp)
     {
     	foo_trans_free_items(tp);
    +	memalloc_nofs_restore(0);
     	kmem_cache_free(foo_trans_cache, tp);
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -90,5 +90,6 @@ static void foo_trans_free(struct foo_trans *tp)
     {
     	foo_trans_free_items(tp);
    +	memalloc_nofs_restore(tp->t_pflags);
     	kmem_cache_free(foo_trans_cache, tp);
     }
    ```

    ## Known problems
    None known: the paired cookie is always the right argument.

    ## References
    - 3f6d5e6a468d "mm: introduce memalloc_flags_{save,restore}" (v6.9)
    - "[PATCH] xfs: fix incorrect context handling in xfs_trans_roll" (2026-01-16)
    """
    change = ctx.tables.scope.flags_semantics_change
    new_era = _restore_state(ctx) == "new"
    for fn in ctx.functions:
        for call in fn.calls:
            if call.name not in ctx.tables.scope.restore_kind or len(call.args) != 1:
                continue
            arg = call.args[0]
            text = call.arg_texts[0]
            if arg.type != "number_literal" and not (arg.type == "identifier"
                                                     and text.startswith("PF_")):
                continue
            if new_era:
                message = (f"{call.name}({text}) in {fn.ref} is a no-op only since "
                           f"3f6d5e6a468d (v{change}); stable trees without it clear the flag "
                           "even inside a caller's scope. Pass the saved cookie")
                severity = Severity.WARNING
            else:
                message = (f"{call.name}({text}) in {fn.ref} clears the scope flag on "
                           f"v{ctx.version} (before v{change}), even inside a caller's scope. "
                           "Pass the cookie the paired save returned")
                severity = Severity.ERROR
            yield Hit(line=call.line, function=fn.name, key=f"literal:{call.name}:{text}",
                      message=message, severity=severity)


@rule(id="MEMALLOC-005", name="nested-out-of-order", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def nested_out_of_order(ctx: ImageContext) -> Iterator[Hit]:
    """Nested scopes restored in the wrong order.

    ## What it does
    Flags save A, save B, then restore(A) while B is still open.

    ## Why is this bad?
    Scopes unwind LIFO; restoring the outer cookie first drops the flag while the
    inner section still runs, in both the old and the v6.9 semantics, and the
    later inner restore may set it again after the outer scope ended.

    ## Example
    ```diff
    --- a/fs/foo/log.c
    +++ b/fs/foo/log.c
    @@ -20,6 +20,10 @@ static void foo_log_flush(struct foo_log *log)
     {
    +	unsigned int nofs = memalloc_nofs_save();
    +	unsigned int noio = memalloc_noio_save();
     	foo_log_write(log);
    +	memalloc_nofs_restore(nofs);
    +	memalloc_noio_restore(noio);
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/log.c
    +++ b/fs/foo/log.c
    @@ -20,6 +20,10 @@ static void foo_log_flush(struct foo_log *log)
     {
    +	unsigned int nofs = memalloc_nofs_save();
    +	unsigned int noio = memalloc_noio_save();
     	foo_log_write(log);
    +	memalloc_noio_restore(noio);
    +	memalloc_nofs_restore(nofs);
     }
    ```

    ## Known problems
    Cookies carried in objects are not tracked.

    ## References
    - Documentation/core-api/gfp_mask-from-fs-io.rst ("the proper pairing of save/restore functions allows nesting")
    """
    for fn in ctx.functions:
        if not _has_scope_calls(ctx, fn):
            continue
        for bad in _pairing(ctx, fn).order_errors:
            yield Hit(
                line=bad.line, function=fn.name,
                key=f"order:{bad.outer.cookie}:{bad.inner.cookie}",
                message=(f"{bad.outer.cookie} (opened at line {bad.outer.line}) is restored "
                         f"while {bad.inner.cookie} (line {bad.inner.line}) is still open in "
                         f"{fn.ref}; scopes unwind LIFO, so the rest of the inner "
                         "section runs unprotected"),
                suggestion=f"restore {bad.inner.cookie} first",
            )


def _bare_save(call_node: Node) -> bool:
    parent = call_node.parent
    if parent is not None and parent.type == "cast_expression":
        parent = parent.parent
    return parent is not None and parent.type == "expression_statement"


@rule(id="MEMALLOC-006", name="discarded-save", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.WARNING, confidence=Confidence.HIGH)
def discarded_save(ctx: ImageContext) -> Iterator[Hit]:
    """memalloc_*_save() whose cookie is thrown away.

    ## What it does
    Flags a save called as a bare statement (or cast to void), so nothing can
    ever restore it. Advice only in kthread/worker entry functions, where a
    thread-lifetime scope is a known pattern.

    ## Why is this bad?
    Without the cookie the scope can never be closed: it lasts for the rest of
    the task's life. When that is the intent (kjournald2 runs NOFS for its whole
    life) it must say so in a comment.

    ## Example
    ```diff
    --- a/fs/foo/flush.c
    +++ b/fs/foo/flush.c
    @@ -30,4 +30,5 @@ static int foo_flush_inode(struct inode *inode)
     {
    +	memalloc_nofs_save();
     	return foo_write_inode(inode);
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/flush.c
    +++ b/fs/foo/flush.c
    @@ -30,4 +30,8 @@ static int foo_flush_inode(struct inode *inode)
     {
    +	unsigned int nofs = memalloc_nofs_save();
    +	int ret = foo_write_inode(inode);
    +
    +	memalloc_nofs_restore(nofs);
    -	return foo_write_inode(inode);
    +	return ret;
     }
    ```

    ## Known problems
    Thread-lifetime scopes are legitimate; they get advice, not a warning.

    ## References
    - "jbd2: make the whole kjournald2 kthread NOFS safe" (v4.12)
    """
    for fn in ctx.functions:
        name = (fn.name or "").lower()
        thread = any(h in name for h in _THREAD_HINTS) or any(
            "work_struct" in t or t.startswith("void *") for t, _ in fn.params)
        for call in fn.calls:
            if call.name not in ctx.tables.scope.save_kind or not _bare_save(call.node):
                continue
            yield Hit(
                line=call.line, function=fn.name, key=f"discarded:{call.name}",
                severity=Severity.ADVICE if thread else None,
                confidence=Confidence.MEDIUM if thread else None,
                message=(f"keep the value {call.name}() returns in {fn.ref} and "
                         "restore it; if the scope is meant to last for the thread's lifetime, "
                         "say so in a comment"),
            )


@rule(id="MEMALLOC-007", name="cross-function-carrier", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.ADVICE, confidence=Confidence.LOW)
def cross_function_carrier(ctx: ImageContext) -> Iterator[Hit]:
    """A scope cookie carried in an object is dropped on a path.

    ## What it does
    For scopes whose cookie travels in an object (XFS t_pflags, jbd2
    saved_alloc_context, blk_mq freeze memflags) through begin/end helpers,
    flags an end helper called only conditionally right before the object is
    freed, so on the other path the object goes away with the scope still open.

    ## Why is this bad?
    Every path that ends the object must restore its cookie exactly once, and a
    handover must move the cookie rather than duplicate it or leave a restore(0)
    behind. Darrick Wong on the v8 "xfs: use current->journal_info" series:
    when the commit fails "we'll abort everything without clearing
    current->journal_info or restoring the memalloc flags".

    ## Example
    ```diff
    --- a/fs/foo/trans.h
    +++ b/fs/foo/trans.h
    @@ -40,3 +40,9 @@ struct foo_trans {
     	unsigned int t_pflags;
     };
     
    +static inline void foo_trans_context_clear(struct foo_trans *tp)
    +{
    +	memalloc_nofs_restore(tp->t_pflags);
    +}
    +
    +
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -878,6 +878,7 @@ static int __foo_trans_commit(struct foo_trans *tp, bool regrant)
     	foo_log_commit(mp, tp, regrant);
     
    -	foo_trans_context_clear(tp);
    +	if (!regrant)
    +		foo_trans_context_clear(tp);
     	foo_trans_free(tp);
     	return 0;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/trans.c
    +++ b/fs/foo/trans.c
    @@ -878,6 +878,6 @@ static int __foo_trans_commit(struct foo_trans *tp, bool regrant)
     	foo_log_commit(mp, tp, regrant);
     
    -	foo_trans_context_clear(tp);
    +	foo_trans_context_clear(tp);	/* every path that frees tp */
     	foo_trans_free(tp);
     	return 0;
    ```

    ## Known problems
    Helpers are recognised from the API tables and from definitions visible in
    the same patch (a body that stores a save's result in an object, or restores
    one from it). Advice only.

    ## References
    - 756b1c343333 "xfs: use current->journal_info for detecting transaction recursion"
    - Darrick J. Wong, review of "[PATCH v8 2/2] xfs: use current->journal_info..." (2020-11-04)
    """
    closers = ctx.patch.closers
    if not closers:
        return
    for fn in ctx.functions:
        calls = fn.calls
        for i, call in enumerate(calls):
            if call.name not in closers or not call.args:
                continue
            obj = call.arg_texts[0]
            parent = call.node.parent
            while parent is not None and parent.type not in ("if_statement",
                                                             "compound_statement"):
                parent = parent.parent
            if parent is None or parent.type != "if_statement":
                continue
            cond = parent.child_by_field_name("condition")
            frees = [c for c in calls[i + 1:] if c.arg_texts and c.arg_texts[0] == obj and (
                c.name.endswith("_free") or c.name in ("kfree", "kmem_cache_free"))]
            if not frees:
                continue
            cond_text = node_text(cond).strip() if cond is not None else "?"
            yield Hit(
                line=call.line, function=fn.name, key=f"carrier-cond:{call.name}:{obj}",
                message=(f"{call.name}({obj}) only runs when {cond_text}, but {frees[0].name}"
                         f"({obj}) at line {frees[0].line} frees it on every path; on the other "
                         f"path the scope {obj} carries is never restored in "
                         f"{fn.ref}"),
            )


_PF_RECURSION_FLAGS = ("PF_MEMALLOC_NOFS", "PF_MEMALLOC_NOIO", "PF_MEMALLOC", "PF_FSTRANS",
                       "PF_MEMALLOC_PIN", "PF_MEMALLOC_NOCMA", "PF_MEMALLOC_NORECLAIM",
                       "PF_MEMALLOC_NOWARN")


@rule(id="MEMALLOC-008", name="direct-pf-flags", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.WARNING, confidence=Confidence.HIGH)
def direct_pf_flags(ctx: ImageContext) -> Iterator[Hit]:
    """Open-coded current->flags edits of PF_MEMALLOC* bits.

    ## What it does
    Flags ``current->flags |= PF_MEMALLOC_NOFS`` and ``current->flags &=
    ~PF_MEMALLOC_NOFS`` (and the NOIO, PF_MEMALLOC, PIN, PF_FSTRANS bits) outside
    mm/ and kernel/.

    ## Why is this bad?
    Clearing the bit unconditionally also ends a caller's scope, and setting it
    without saving the old value makes it impossible to restore. The save/restore
    API exists for exactly this. Thread-identity flags such as PF_KCOMPACTD are
    not memalloc flags and are not flagged.

    ## Example
    ```diff
    --- a/fs/foo/sync.c
    +++ b/fs/foo/sync.c
    @@ -12,5 +12,7 @@ static int foo_sync_meta(struct foo_sb_info *sbi)
     	int ret;
     
    +	current->flags |= PF_MEMALLOC_NOFS;
     	ret = foo_write_super(sbi);
    +	current->flags &= ~PF_MEMALLOC_NOFS;
     	return ret;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/sync.c
    +++ b/fs/foo/sync.c
    @@ -12,5 +12,7 @@ static int foo_sync_meta(struct foo_sb_info *sbi)
     	int ret;
     
    +	nofs = memalloc_nofs_save();
     	ret = foo_write_super(sbi);
    +	memalloc_nofs_restore(nofs);
     	return ret;
    ```

    ## Known problems
    Saving the whole flags word and writing it back (the loop worker) is correct
    and is not flagged.

    ## References
    - include/linux/sched/mm.h
    """
    if ctx.in_paths(ctx.paths.core_mm):
        return
    for fn in ctx.functions:
        if fn.body is None or b"flags" not in (fn.body.text or b""):
            continue
        if _restores_whole_word(ctx, fn):
            continue
        for node in ctx.unit.iter_nodes(fn.body, frozenset({"assignment_expression"})):
            left = node.child_by_field_name("left")
            op = node.child_by_field_name("operator")
            right = node.child_by_field_name("right")
            if left is None or op is None or right is None:
                continue
            if " ".join(node_text(left).split()) not in _TASK_FLAGS:
                continue
            operator = node_text(op)
            flags = [f for f in _PF_RECURSION_FLAGS if f in _tokens(node_text(right))]
            if operator not in ("|=", "&=") or not flags:
                continue
            line = ctx.unit.line_of(node)
            if line is None:
                continue
            verb = "sets" if operator == "|=" else "clears"
            yield Hit(
                line=line, function=fn.name, key=f"pf:{operator}:{flags[0]}",
                message=(f"{fn.ref} {verb} {flags[0]} by hand; please use "
                         "memalloc_nofs_save()/restore() (or the noio pair): clearing the bit "
                         "unconditionally also ends a caller's scope"),
                suggestion="memalloc_nofs_save()/memalloc_nofs_restore()",
            )


_TASK_FLAGS = ("current->flags", "tsk->flags", "task->flags", "p->flags")


def _restores_whole_word(ctx: ImageContext, fn: CFunction) -> bool:
    """``old = current->flags; ... current->flags = old;`` (the loop worker pattern)."""
    assert fn.body is not None  # type narrowing  # nosec B101
    for node in ctx.unit.assignments_in(fn.body):
        if node.type != "assignment_expression":
            continue
        left = node.child_by_field_name("left")
        op = node.child_by_field_name("operator")
        right = node.child_by_field_name("right")
        if left is None or op is None or right is None or node_text(op) != "=":
            continue
        if " ".join(node_text(left).split()) in _TASK_FLAGS and right.type == "identifier":
            return True
    return False


def _tokens(text: str) -> set[str]:
    out, cur = set(), ""
    for ch in text:
        if ch.isalnum() or ch == "_":
            cur += ch
        else:
            if cur:
                out.add(cur)
            cur = ""
    if cur:
        out.add(cur)
    return out


@rule(id="MEMALLOC-009", name="noreclaim-misuse", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def noreclaim_misuse(ctx: ImageContext) -> Iterator[Hit]:
    """memalloc_noreclaim_save() used as a stronger NOFS; PF_MEMALLOC_NORECLAIM.

    ## What it does
    Flags memalloc_noreclaim_save() (or memalloc_flags_save(PF_MEMALLOC)) added
    in filesystem or driver code, and any use of PF_MEMALLOC_NORECLAIM or
    PF_MEMALLOC_NOWARN: an error on v6.12+ (removed) and before v6.9 (not yet
    there), a warning on v6.9-v6.11.

    ## Why is this bad?
    memalloc_noreclaim_save() is not a stronger NOFS: it disables reclaim and
    hands this task the memory reserves, which are meant for paths that free
    memory soon. Use the nofs/noio scope for recursion. PF_MEMALLOC_NORECLAIM was
    added in v6.9 and reverted in v6.12-rc3 (9a8da05d7ad6): Michal Hocko showed a
    no-reclaim scope is unsafe unless it owns every nested allocation.

    ## Example
    ```diff
    --- a/fs/foo/alloc.c
    +++ b/fs/foo/alloc.c
    @@ -40,5 +40,7 @@ static int foo_alloc_node(struct foo_tree *t)
     	int ret;
     
    +	flags = memalloc_noreclaim_save();
     	ret = foo_tree_insert(t);
    +	memalloc_noreclaim_restore(flags);
     	return ret;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/alloc.c
    +++ b/fs/foo/alloc.c
    @@ -40,5 +40,7 @@ static int foo_alloc_node(struct foo_tree *t)
     	int ret;
     
    +	flags = memalloc_nofs_save();
     	ret = foo_tree_insert(t);
    +	memalloc_nofs_restore(flags);
     	return ret;
    ```

    ## Known problems
    Swap-over-network and block-device transports that must make progress under
    reclaim (sunrpc, nbd, iSCSI) use PF_MEMALLOC by design; core mm/ and
    kernel/ are skipped.

    ## References
    - 9a8da05d7ad6 (revert of PF_MEMALLOC_NORECLAIM, v6.12-rc3)
    - "[PATCH 0/2] get rid of PF_MEMALLOC_NORECLAIM" (Michal Hocko, 2024-08-26)
    """
    if ctx.in_paths(ctx.paths.core_mm):
        return
    in_scope = ctx.path.startswith(("fs/", "drivers/"))
    for fn in ctx.functions:
        for call in fn.calls:
            if b"PF_MEMALLOC" not in (call.node.text or b"") and \
                    call.name not in ctx.tables.scope.save_kind:
                continue
            text = call.text
            for flag, removed_in in ctx.tables.scope.removed_flags.items():
                if flag not in _tokens(text):
                    continue
                removed = KernelVersion.parse(removed_in)
                added = KernelVersion.parse(ctx.tables.scope.flags_semantics_change)
                if ctx.version >= removed:
                    sev, msg = Severity.ERROR, f"{flag} was removed in v{removed_in}; use " \
                        "GFP_NOWAIT at the call site"
                elif ctx.version < added:
                    sev, msg = Severity.ERROR, f"{flag} does not exist before v{added}"
                else:
                    sev, msg = Severity.WARNING, (f"{flag} is unsafe (a nested NOFAIL breaks it) "
                                                  f"and is removed in v{removed_in}; use "
                                                  "GFP_NOWAIT at the call site")
                yield Hit(line=call.line, function=fn.name, key=f"noreclaim-flag:{flag}",
                          severity=sev, confidence=Confidence.HIGH,
                          message=f"{msg} ({fn.ref})")
            kind = ctx.tables.scope.save_kind.get(call.name)
            is_noreclaim = kind == "noreclaim" or (kind == "flags" and "PF_MEMALLOC" in _tokens(
                text))
            if in_scope and is_noreclaim:
                yield Hit(
                    line=call.line, function=fn.name, key=f"noreclaim:{call.name}",
                    message=(f"{call.name}() in {fn.ref} is not a stronger NOFS: it "
                             "disables reclaim and hands this task the memory reserves. Use "
                             "memalloc_nofs_save() (or noio) to prevent recursion"),
                    suggestion="memalloc_nofs_save()/memalloc_nofs_restore()",
                )


@rule(id="MEMALLOC-010", name="cookie-arithmetic", category=Category.MEMALLOC_UNPAIRED,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def cookie_arithmetic(ctx: ImageContext) -> Iterator[Hit]:
    """Code that looks inside a saved cookie or combines cookies.

    ## What it does
    Flags bit tests, ORs and comparisons on a value returned by memalloc_*_save(),
    and ``x |= memalloc_*_save()``.

    ## Why is this bad?
    The saved value's meaning inverted in v6.9: before, it is the flag's previous
    state; since 3f6d5e6a468d it is the set of bits the save newly set. Code that
    tests or merges cookies is right in one era and wrong in the other. Treat the
    cookie as opaque.

    ## Example
    ```diff
    --- a/fs/foo/journal.c
    +++ b/fs/foo/journal.c
    @@ -50,5 +50,6 @@ static void foo_start_handle(struct foo_handle *handle)
     {
     	handle->h_nofs = memalloc_nofs_save();
    +	handle->h_nofs |= memalloc_noio_save();
     	foo_handle_begin(handle);
     }
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/journal.c
    +++ b/fs/foo/journal.c
    @@ -50,5 +50,6 @@ static void foo_start_handle(struct foo_handle *handle)
     {
     	handle->h_nofs = memalloc_nofs_save();
    +	handle->h_noio = memalloc_noio_save();
     	foo_handle_begin(handle);
     }
    ```

    ## Known problems
    Only cookies visible as assignments from a save in the same function are
    tracked.

    ## References
    - 3f6d5e6a468d "mm: introduce memalloc_flags_{save,restore}"
    """
    scope = ctx.tables.scope
    for fn in ctx.functions:
        if fn.body is None or not _has_scope_calls(ctx, fn):
            continue
        cookies: set[str] = set()
        for call in fn.calls:
            if call.name not in scope.save_kind:
                continue
            parent = call.node.parent
            if parent is not None and parent.type == "assignment_expression":
                op = parent.child_by_field_name("operator")
                left = parent.child_by_field_name("left")
                if op is not None and node_text(op) in ("|=", "&=", "^=") and left is not None:
                    yield Hit(line=call.line, function=fn.name,
                              key=f"cookie-or:{node_text(left)}",
                              message=(f"{node_text(left)} {node_text(op)} {call.name}() in "
                                       f"{fn.ref} merges cookies; their meaning "
                                       "changed in v6.9, keep one variable per scope"))
                elif left is not None:
                    cookies.add(node_text(left))
            elif parent is not None and parent.type == "init_declarator":
                decl = parent.child_by_field_name("declarator")
                if decl is not None:
                    cookies.add(node_text(decl))
        if not cookies:
            continue
        for node in ctx.unit.iter_nodes(fn.body, frozenset({"binary_expression"})):
            op = node.child_by_field_name("operator")
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if op is None or left is None or right is None:
                continue
            if node_text(op) not in ("&", "|", "^", "==", "!="):
                continue
            if node_text(left) in cookies or node_text(right) in cookies:
                line = ctx.unit.line_of(node)
                if line is None:
                    continue
                yield Hit(line=line, function=fn.name,
                          key=f"cookie-test:{' '.join(node_text(node).split())}",
                          message=(f"{' '.join(node_text(node).split())} in {fn.ref} "
                                   "looks inside a saved cookie; its meaning inverted in v6.9 "
                                   "(old state vs newly set bits), treat it as opaque"))


def _restore_like(ctx: ChangeContext, call: Call) -> str | None:
    """A call that ends a scope: memalloc_*_restore, or device noio switched off."""
    if call.name in ctx.tables.scope.restore_kind:
        return call.name
    if call.name in ctx.tables.scope.device_noio and len(call.args) == 2 \
            and call.arg_texts[1] in ("false", "0"):
        return call.name
    return None


def _save_like(ctx: ChangeContext, call: Call) -> bool:
    if call.name in ctx.tables.scope.save_kind:
        return True
    return call.name in ctx.tables.scope.device_noio and len(call.args) == 2 \
        and call.arg_texts[1] in ("true", "1")


def _exit_after(image: ImageContext, line: int) -> Node | None:
    """The return/goto statement a path reaches at ``line`` (the next statement)."""
    fn = image.unit.function_at(line)
    if fn is None or fn.body is None:
        return None
    for node in image.unit.iter_nodes(fn.body, frozenset({"return_statement",
                                                          "goto_statement"})):
        start = image.unit.first_real_line(node)
        if start is not None and start >= line:
            return node if start - line <= 2 else None
    return None


@rule(id="MEMALLOC-011", name="restore-dropped-from-exit-path",
      category=Category.MEMALLOC_UNPAIRED, severity=Severity.ERROR,
      confidence=Confidence.MEDIUM, kind="change", modes=("hunk", "tree"))
def restore_dropped_from_exit_path(ctx: ChangeContext) -> Iterator[Hit]:
    """A restore removed from a path that then leaves the function.

    ## What it does
    Flags a change that deletes memalloc_*_restore() (or
    pm_runtime_set_memalloc_noio(dev, false)) right before a ``return`` or
    ``goto`` while the save stays, so that exit path now leaks the scope. This
    catches the bug even when the save is outside the hunk.

    ## Why is this bad?
    Error paths are where restores go missing: the task returns with
    PF_MEMALLOC_NOFS/NOIO still set and every later allocation is silently
    constrained. "bcachefs: Fix missing memalloc_nofs_restore()" and "block: Set
    memalloc_noio to false on device_add_disk() error path" fixed exactly this.

    ## Example
    ```diff
    --- a/fs/foo/btree.c
    +++ b/fs/foo/btree.c
    @@ -210,7 +210,6 @@ static int foo_btree_split(struct foo_btree *b)
     	n = foo_node_alloc(b);
     	if (!n) {
    -		memalloc_nofs_restore(flags);
     		return -ENOMEM;
     	}
     	foo_node_split(b, n);
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/btree.c
    +++ b/fs/foo/btree.c
    @@ -210,7 +210,7 @@ static int foo_btree_split(struct foo_btree *b)
     	n = foo_node_alloc(b);
     	if (!n) {
    -		memalloc_nofs_restore(flags);
    +		memalloc_nofs_restore(flags);	/* before every return */
     		return -ENOMEM;
     	}
     	foo_node_split(b, n);
    ```

    ## Known problems
    When the patch also removes the save, or reroutes the path through a label
    (``goto out``), nothing is reported; whole-function pairing (MEMALLOC-001)
    judges those.

    ## References
    - "bcachefs: Fix missing memalloc_nofs_restore()"
    - "[PATCH] block: Set memalloc_noio to false on device_add_disk() error path" (2023-12-11)
    """
    if ctx.pre is None:
        return
    removed_saves = any(_save_like(ctx, c) for b in ctx.blocks
                        for c in ctx.calls_on(ctx.pre, b.removed))
    if removed_saves:
        return
    for block in ctx.blocks:
        added = list(ctx.calls_on(ctx.post, block.added))
        if any(_restore_like(ctx, c) for c in added):
            continue
        if any(ln.text.strip().startswith("goto ") for ln in block.added):
            continue
        for call in ctx.calls_on(ctx.pre, block.removed):
            name = _restore_like(ctx, call)
            if name is None:
                continue
            exit_node = _exit_after(ctx.post, block.anchor)
            if exit_node is None:
                continue
            line = ctx.post.unit.first_real_line(exit_node) or block.anchor
            fn = ctx.post.unit.function_at(line)
            what = " ".join(node_text(exit_node).split())
            yield Hit(
                line=line, function=fn.name if fn is not None else None,
                key=f"restore-dropped:{name}:{call.arg_texts[0] if call.args else ''}:{what}",
                message=(f"{call.text} was removed from this path, which then does '{what}' "
                         f"in {fn.ref if fn is not None else 'this function'}: the "
                         "scope stays open after the function returns. Keep the restore on "
                         "every exit"),
                suggestion=f"{call.text} before '{what}'",
            )
