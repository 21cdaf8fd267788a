"""NOFS-0xx: GFP_NOFS/GFP_NOIO misuse (family ``nofs-misuse``)."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from heuristics.context import ChangeContext, ImageContext
from heuristics.cparse import CFunction, mutually_exclusive, node_text
from heuristics.dropped import dropped_nofs
from heuristics.model import Category, Confidence, KernelVersion, Severity
from heuristics.queries import allocations
from heuristics.registry import Hit, rule

_NOFS_REASON_WORDS = (
    "deadlock", "reclaim", "recurs", "lockdep", "nofs", "gfp_nofs", "fs_reclaim",
    "transaction", "journal", "shrinker", "writeback",
)
# A commit message that talks about the allocation context: the change is
# deliberate and argued, so a drop of NOFS without visible context is a question.
_DELIBERATE_WORDS = (
    "gfp_kernel", "gfp_nofs", "nofs", "gfp", "scope", "ioctl", "syscall", "mount", "sysfs",
    "debugfs", "module init", "no locks", "not called under", "not under", "outside of a transaction",
    "outside a transaction", "no transaction", "not in a transaction", "not holding",
)
_WRITEBACK_NAME_PARTS = ("writepage", "end_io", "endio", "end_bio", "bio_end", "submit_bio",
                         "readpage", "read_folio", "readahead", "write_end", "ioend")


def _writeback_function(fn: CFunction) -> bool:
    name = (fn.name or "").lower()
    return any(part in name for part in _WRITEBACK_NAME_PARTS)


def _scope_only_since(ctx: ImageContext) -> KernelVersion | None:
    for glob, since in ctx.tables.paths.scope_only.items():
        if ctx.in_paths([glob]):
            return KernelVersion.parse(since)
    return None


@rule(id="NOFS-001", name="nofs-just-in-case", category=Category.NOFS_MISUSE,
      severity=Severity.ADVICE, confidence=Confidence.LOW)
def nofs_just_in_case(ctx: ImageContext) -> Iterator[Hit]:
    """GFP_NOFS added where nothing visible needs it.

    ## What it does
    Flags a new GFP_NOFS allocation in filesystem code when nothing visible on the
    path holds a transaction, a lock reclaim needs, or runs in writeback or a
    reclaim callback, and the commit message gives no reason.

    ## Why is this bad?
    GFP_NOFS is not "safe mode": it weakens reclaim for every such allocation and
    hides which code really cannot recurse. The kernel-doc of GFP_NOFS and
    Documentation/core-api/gfp_mask-from-fs-io.rst ask for the scope API at the
    place where recursion would deadlock, "with a short explanation why", and call
    NOFS "just in case" a mistake. Christoph Hellwig (2010): GFP_NOFS is only for
    where re-entering the filesystem can deadlock.

    ## Example
    ```diff
    --- a/fs/foo/super.c
    +++ b/fs/foo/super.c
    @@ -40,6 +40,6 @@ static int foo_fill_options(struct foo_sb_info *sbi, char *data)
     {
     	char *opts;
     
    -	opts = kstrdup(data, GFP_KERNEL);
    +	opts = kstrdup(data, GFP_NOFS);
     	if (!opts)
     		return -ENOMEM;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/super.c
    +++ b/fs/foo/super.c
    @@ -40,6 +40,6 @@ static int foo_fill_options(struct foo_sb_info *sbi, char *data)
     {
     	char *opts;
     
    -	opts = kstrdup(data, GFP_NOFS);
    +	opts = kstrdup(data, GFP_KERNEL);
     	if (!opts)
     		return -ENOMEM;
    ```

    ## Known problems
    A hunk rarely shows the caller's transaction, so this is advice with low
    confidence. Filesystems whose policy is explicit NOFS inside transactions
    (btrfs, f2fs, gfs2, nilfs2) and writeback/IO-completion code are skipped.

    ## References
    - include/linux/gfp_types.h (GFP_NOFS kernel-doc)
    - Documentation/core-api/gfp_mask-from-fs-io.rst
    - 32fc932e30c4 "btrfs: fallocate: use GFP_KERNEL"
    """
    if not ctx.in_paths(ctx.paths.filesystems) or ctx.in_paths(ctx.paths.writeback_io) \
            or ctx.in_paths(ctx.paths.nofs_everywhere):
        return
    if ctx.patch.message_mentions(*_NOFS_REASON_WORDS):
        return
    scope_api = ctx.tables.scope.by_kind["nofs"].since_version or ctx.version
    for fn in ctx.functions:
        if _writeback_function(fn) or ctx.callback_kinds(fn):
            continue
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is None or not gfp.is_nofs or "GFP_NOFS" not in gfp.names:
                continue
            regions = ctx.regions_at(fn, alloc.call.line)
            locks = [r for r in regions if r.kind == "lock" and r.needs_nofs]
            if locks and not any(r.makes_nofs for r in regions) and ctx.version >= scope_api:
                lock = locks[-1]
                yield Hit(
                    line=alloc.call.line, function=fn.name,
                    key=f"nofs-under-lock:{alloc.call.name}:{lock.label}",
                    message=(f"GFP_NOFS for {alloc.call.name}() in {fn.ref} because "
                             f"{lock.label} is held ({lock.open_call}() at line "
                             f"{lock.open_line})? Mark that section once with "
                             "memalloc_nofs_save() where the lock is taken, so every "
                             "allocation under it is covered, and use GFP_KERNEL here"),
                    suggestion="memalloc_nofs_save() right after taking the lock",
                )
                continue
            if regions:
                continue
            yield Hit(
                line=alloc.call.line,
                function=fn.name,
                key=f"nofs:{alloc.call.name}",
                message=(f"why GFP_NOFS for {alloc.call.name}() in {fn.ref}? "
                         "Nothing visible here holds a transaction or a lock reclaim needs; "
                         "if such a context exists, mark it once with memalloc_nofs_save() "
                         "where it starts (with a comment naming what reclaim would deadlock "
                         "on), otherwise GFP_KERNEL is fine"),
                suggestion="GFP_KERNEL, or a memalloc_nofs_save() scope where the lock is taken",
            )


@rule(id="NOFS-002", name="nofs-redundant-in-scope", category=Category.NOFS_MISUSE,
      severity=Severity.ADVICE, confidence=Confidence.MEDIUM)
def nofs_redundant_in_scope(ctx: ImageContext) -> Iterator[Hit]:
    """GFP_NOFS (or a nested NOFS scope) inside an already-NOFS region.

    ## What it does
    Flags a GFP_NOFS/GFP_NOIO allocation, or an inner memalloc_nofs_save(), placed
    where the task is already in a NOFS scope: an explicit scope in the same
    function, or an ext4/jbd2/ocfs2 handle or XFS transaction on v4.12+ (which
    carry the scope themselves). In XFS on v6.9+, where every transaction is a
    scope and GFP_NOFS was removed tree-wide, any new GFP_NOFS is flagged.

    ## Why is this bad?
    Inside the scope GFP_KERNEL already behaves as GFP_NOFS. The redundant flag
    spreads the NOFS decision over many call sites and keeps the flag in place
    after the scope moves. The 2017 scope series and the XFS v6.9 cleanup
    (0b3a76e955eb, 204fae32d5f7) removed exactly these.

    ## Example
    ```diff
    --- a/fs/ext4/foo.c
    +++ b/fs/ext4/foo.c
    @@ -10,7 +10,7 @@ static int ext4_foo_update(struct inode *inode)
     	handle = ext4_journal_start(inode, EXT4_HT_MISC, 1);
     	if (IS_ERR(handle))
     		return PTR_ERR(handle);
    -	buf = kmalloc(len, GFP_KERNEL);
    +	buf = kmalloc(len, GFP_NOFS);
     	if (!buf)
     		goto out_stop;
     	err = ext4_foo_fill(handle, inode, buf);
    ```

    ## Use instead
    ```diff
    --- a/fs/ext4/foo.c
    +++ b/fs/ext4/foo.c
    @@ -10,7 +10,7 @@ static int ext4_foo_update(struct inode *inode)
     	handle = ext4_journal_start(inode, EXT4_HT_MISC, 1);
     	if (IS_ERR(handle))
     		return PTR_ERR(handle);
    -	buf = kmalloc(len, GFP_NOFS);
    +	buf = kmalloc(len, GFP_KERNEL);
     	if (!buf)
     		goto out_stop;
     	err = ext4_foo_fill(handle, inode, buf);
    ```

    ## Known problems
    A helper may also be called outside the region by another caller; then the
    flag is needed there. Never flagged for btrfs/f2fs/gfs2/nilfs2, whose
    transactions are not scopes, or for targets before v4.12.

    ## References
    - 0b3a76e955eb "xfs: use GFP_KERNEL in pure transaction contexts"
    - 204fae32d5f7 "xfs: clean up remaining GFP_NOFS users"
    - "[PATCH 0/8 v3] scope GFP_NOFS api" (Michal Hocko, 2017-01-06)
    """
    if ctx.in_paths(ctx.paths.nofs_everywhere):
        return
    scope_only = _scope_only_since(ctx)
    for fn in ctx.functions:
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is None or not gfp.forbids_fs or "GFP_NOFS" not in gfp.names:
                continue
            scoped = [r for r in ctx.regions_at(fn, alloc.call.line) if r.makes_nofs]
            if scoped:
                region = scoped[-1]
                what = ("an existing memalloc scope" if region.kind == "scope"
                        else f"a {region.label} ({region.open_call}())")
                yield Hit(
                    line=alloc.call.line, function=fn.name,
                    key=f"redundant:{alloc.call.name}:{region.kind}",
                    message=(f"{alloc.call.name}() in {fn.ref} runs under {what}, "
                             "which already makes allocations NOFS; GFP_KERNEL is enough and "
                             "keeps the NOFS context documented in one place"),
                    suggestion="GFP_KERNEL",
                )
            elif scope_only is not None and ctx.version >= scope_only:
                yield Hit(
                    line=alloc.call.line, function=fn.name,
                    key=f"scope-only:{alloc.call.name}",
                    confidence=Confidence.LOW,
                    message=(f"GFP_NOFS in {fn.ref}: since v{scope_only} this "
                             "filesystem runs transactions as NOFS scopes and uses no "
                             "GFP_NOFS; use GFP_KERNEL (with __GFP_NOLOCKDEP where the path "
                             "also runs outside a transaction)"),
                    suggestion="GFP_KERNEL",
                )
        for call in fn.calls:
            if ctx.tables.scope.save_kind.get(call.name) != "nofs":
                continue
            outer = [r for r in ctx.regions_at(fn, call.line)
                     if r.makes_nofs and r.kind == "scope"]
            if outer:
                yield Hit(
                    line=call.line, function=fn.name, key=f"nested-scope:{call.name}",
                    message=(f"this memalloc_nofs_save() in {fn.ref} nests inside "
                             f"the scope opened at line {outer[-1].open_line}; the inner one "
                             "changes nothing"),
                )


@rule(id="NOFS-003", name="nofs-dropped-without-scope", category=Category.NOFS_MISUSE,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM, kind="change",
      modes=("hunk", "tree"))
def nofs_dropped_without_scope(ctx: ChangeContext) -> Iterator[Hit]:
    """GFP_NOFS (or a NOFS scope) removed with nothing taking its place.

    ## What it does
    Flags a change that turns a NOFS allocation into GFP_KERNEL, removes a
    memalloc_nofs_save()/restore() pair (or a helper that opened one), or stops
    passing the caller's gfp on, when no scope covers the code afterwards and the
    enclosing transaction (if any) does not imply NOFS.

    ## Why is this bad?
    Dropping NOFS is only safe if nothing on the path holds a transaction handle
    or a lock reclaim can take. btrfs, f2fs, gfs2 and nilfs2 transactions do not
    imply NOFS; a GFP_KERNEL allocation there can enter evict or writeback of the
    same filesystem and wait on the transaction it holds. The btrfs DREW lock
    GFP_KERNEL percpu allocation under a transaction and the nilfs2 symlink
    deadlock (b3a033e3ecd3) are real cases.

    ## Example
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -20,7 +20,7 @@ static int btrfs_foo_add(struct btrfs_trans_handle *trans)
     {
     	struct btrfs_foo *foo;
     
    -	foo = kzalloc(sizeof(*foo), GFP_NOFS);
    +	foo = kzalloc(sizeof(*foo), GFP_KERNEL);
     	if (!foo)
     		return -ENOMEM;
     	list_add(&foo->list, &trans->foos);
    ```

    ## Use instead
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -20,7 +20,9 @@ static int btrfs_foo_add(struct btrfs_trans_handle *trans)
     {
     	struct btrfs_foo *foo;
    +	unsigned int nofs_flag;
     
    +	nofs_flag = memalloc_nofs_save();
     	foo = kzalloc(sizeof(*foo), GFP_NOFS);
     	if (!foo)
     		return -ENOMEM;
     	list_add(&foo->list, &trans->foos);
    ```

    ## Known problems
    A hunk often hides the caller's context. In ext4, XFS and ocfs2, whose
    transactions are scopes, this is only advice; a commit message that states
    the context (ioctl, mount, sysfs, no transaction held) lowers it to advice.

    ## References
    - "Re: [PATCH] percpu: make pcpu_alloc() aware of current gfp context" (2020-04-30)
    - b3a033e3ecd3 "nilfs2: fix potential deadlock with newly created symlinks"
    - 597441b3436a "btrfs: use nofs when cleaning up aborted transactions"
    """
    if ctx.post.in_paths(ctx.tables.vmalloc.implementation_paths):
        return  # VMALLOC-005 owns the vmalloc implementation
    for event in dropped_nofs(ctx):
        fn = ctx.post.unit.function_at(event.line)
        if fn is None:
            continue
        regions = ctx.post.regions_at(fn, event.line)
        if any(r.makes_nofs for r in regions):
            continue
        needs = [r for r in regions if r.needs_nofs] + list(event.takes_locks)
        txn = ctx.tables.transaction_for_path(ctx.path)
        severity = Severity.WARNING
        confidence = Confidence.MEDIUM
        why = ""
        if needs:
            severity, confidence = Severity.ERROR, Confidence.HIGH
            held = needs[-1]
            why = f" while {held.label} is held ({held.open_call}())"
        elif txn is not None and txn.implies_nofs(ctx.patch.version):
            if ctx.patch.message_mentions("transaction", "journal", "handle"):
                continue
            severity, confidence = Severity.ADVICE, Confidence.LOW
            why = f"; {txn.fs} transactions imply NOFS, so this is fine if one is always held"
        elif ctx.patch.message_mentions(*_DELIBERATE_WORDS):
            # The patch is about the allocation context and its author argues it is
            # safe; without a visible transaction or lock there is only a question.
            severity, confidence = Severity.ADVICE, Confidence.LOW
        yield Hit(
            line=event.line, function=fn.name, key=event.key, severity=severity,
            confidence=confidence,
            message=(f"{event.what} in {fn.ref}{why}: dropping NOFS is only safe if nothing "
                     "here holds a transaction handle or a lock reclaim can take; keep NOFS or "
                     "open a memalloc_nofs_save() scope where that context begins"),
            suggestion="memalloc_nofs_save()/restore() around the section that holds the lock",
        )


@rule(id="NOFS-004", name="noio-vs-nofs-layering", category=Category.NOFS_MISUSE,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def noio_vs_nofs_layering(ctx: ImageContext) -> Iterator[Hit]:
    """NOIO in filesystem code, or NOFS below the block layer.

    ## What it does
    Flags GFP_NOIO/memalloc_noio_save() added in filesystem code above the bio
    layer (advice), and GFP_NOFS/memalloc_nofs_save() added in block-layer and
    block-driver code (warning).

    ## Why is this bad?
    NOIO forbids reclaim from starting any IO, which a filesystem normally does
    not need: NOFS is enough there. Below the block layer the opposite holds:
    NOFS still lets reclaim issue IO, possibly to the very device being served,
    so block code needs NOIO (blk_mq_freeze_queue() enters a NOIO scope since
    v6.14).

    ## Example
    ```diff
    --- a/drivers/block/foo.c
    +++ b/drivers/block/foo.c
    @@ -30,7 +30,7 @@ static int foo_queue_rq(struct foo_dev *dev, struct request *rq)
     {
     	struct foo_cmd *cmd;
     
    -	cmd = kmalloc(sizeof(*cmd), GFP_NOIO);
    +	cmd = kmalloc(sizeof(*cmd), GFP_NOFS);
     	if (!cmd)
     		return -ENOMEM;
     	return foo_submit(dev, cmd);
    ```

    ## Use instead
    ```diff
    --- a/drivers/block/foo.c
    +++ b/drivers/block/foo.c
    @@ -30,7 +30,7 @@ static int foo_queue_rq(struct foo_dev *dev, struct request *rq)
     {
     	struct foo_cmd *cmd;
     
    -	cmd = kmalloc(sizeof(*cmd), GFP_KERNEL);
    +	cmd = kmalloc(sizeof(*cmd), GFP_NOIO);
     	if (!cmd)
     		return -ENOMEM;
     	return foo_submit(dev, cmd);
    ```

    ## Known problems
    Bio allocation and IO-completion code in fs/ (iomap, buffer heads, mpage,
    direct IO, erofs/squashfs decompression) legitimately uses NOIO and is
    skipped. Network transports serving block devices (libceph, sunrpc for
    swap) are judged by their path configuration.

    ## References
    - "block: use GFP_NOIO instead of __GFP_DIRECT_RECLAIM" (Christoph Hellwig, 2018)
    - 1e1a9cecfab3 "block: force noio scope in blk_mq_freeze_queue"
    """
    block = ctx.in_paths(ctx.paths.block_layer)
    fs = ctx.in_paths(ctx.paths.filesystems) and not ctx.in_paths(ctx.paths.writeback_io)
    if not block and not fs:
        return
    for fn in ctx.functions:
        if fs and _writeback_function(fn):
            continue
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is None:
                continue
            if block and gfp.is_nofs and "GFP_NOFS" in gfp.names:
                yield Hit(
                    line=alloc.call.line, function=fn.name, key=f"nofs-in-block:{alloc.call.name}",
                    message=(f"GFP_NOFS in block code ({fn.ref}) still lets reclaim "
                             "issue IO, possibly to this very device; block-layer allocations "
                             "need GFP_NOIO (or the NOIO scope of blk_mq_freeze_queue())"),
                    suggestion="GFP_NOIO",
                )
            elif fs and gfp.is_noio and "GFP_NOIO" in gfp.names \
                    and not alloc.call.name.startswith("bio"):
                yield Hit(
                    line=alloc.call.line, function=fn.name, key=f"noio-in-fs:{alloc.call.name}",
                    severity=Severity.ADVICE, confidence=Confidence.LOW,
                    message=(f"GFP_NOIO in {fn.ref} forbids reclaim from starting "
                             "any IO; filesystem code normally needs only NOFS. Is this really "
                             "below the block layer?"),
                    suggestion="GFP_NOFS, or a memalloc_nofs_save() scope",
                )
        for call in fn.calls:
            kind = ctx.tables.scope.save_kind.get(call.name)
            if block and kind == "nofs":
                yield Hit(
                    line=call.line, function=fn.name, key="nofs-scope-in-block",
                    message=(f"memalloc_nofs_save() in block code ({fn.ref}): NOFS "
                             "still allows reclaim to issue IO to this device; use "
                             "memalloc_noio_save()"),
                    suggestion="memalloc_noio_save()/memalloc_noio_restore()",
                )
            elif fs and kind == "noio":
                yield Hit(
                    line=call.line, function=fn.name, key="noio-scope-in-fs",
                    severity=Severity.ADVICE, confidence=Confidence.LOW,
                    message=(f"memalloc_noio_save() in {fn.ref}: filesystem code "
                             "normally needs only a NOFS scope"),
                    suggestion="memalloc_nofs_save()/memalloc_nofs_restore()",
                )


@rule(id="NOFS-005", name="mapping-gfp-big-hammer", category=Category.NOFS_MISUSE,
      severity=Severity.WARNING, confidence=Confidence.HIGH)
def mapping_gfp_big_hammer(ctx: ImageContext) -> Iterator[Hit]:
    """mapping_set_gfp_mask() that strips __GFP_FS from a whole mapping.

    ## What it does
    Flags mapping_set_gfp_mask() with a mask lacking __GFP_FS (GFP_NOFS,
    ``mapping_gfp_constraint(m, ~__GFP_FS)``, ``& ~__GFP_FS``). It is an error
    when the call comes before inode_nohighmem() on the same inode, which
    rewrites the mask and silently undoes it.

    ## Why is this bad?
    Every page-cache allocation for these files loses filesystem reclaim to fix
    one context. In the 2019 "ext4: Fix deadlock on page reclaim" review Dave
    Chinner called it "a bloody big hammer", and Christoph Hellwig and Ted Ts'o
    asked for memalloc_nofs_save() at the allocation site (or PR_SET_IO_FLUSHER
    for the user-space daemon) instead. nilfs2 b3a033e3ecd3 shows the ordering
    trap with inode_nohighmem().

    ## Example
    ```diff
    --- a/fs/foo/inode.c
    +++ b/fs/foo/inode.c
    @@ -120,6 +120,7 @@ struct inode *foo_iget(struct super_block *sb, unsigned long ino)
     	inode->i_op = &foo_dir_inode_operations;
     	inode->i_fop = &foo_dir_operations;
     	inode->i_mapping->a_ops = &foo_aops;
    +	mapping_set_gfp_mask(inode->i_mapping, GFP_NOFS);
     
     	unlock_new_inode(inode);
     	return inode;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/dir.c
    +++ b/fs/foo/dir.c
    @@ -60,7 +60,10 @@ static int foo_add_entry(struct inode *dir, struct qstr *name)
     	int err;
     
     	foo_lock_op(sbi);
    +	nofs_flag = memalloc_nofs_save();
     	err = foo_insert_dentry(dir, name);
    +	memalloc_nofs_restore(nofs_flag);
    +	/* foo_lock_op() is taken by evict: no fs reclaim under it */
     	foo_unlock_op(sbi);
     	return err;
     }
    ```

    ## Known problems
    Metadata and special mappings (btrfs btree inode, f2fs meta/node inodes, gfs2
    glock mappings, nilfs2, block-device mappings) legitimately carry a NOFS mask:
    there it is advice.

    ## References
    - "[PATCH] ext4: Fix deadlock on page reclaim" (Damien Le Moal, 2019-07-25) and replies
    - b3a033e3ecd3 "nilfs2: fix potential deadlock with newly created symlinks"
    - "mm: Use GFP_KERNEL allocation for the page cache in page_cache_read" (Michal Hocko, 2015)
    """
    for fn in ctx.functions:
        calls = fn.calls
        for i, call in enumerate(calls):
            if call.name != "mapping_set_gfp_mask" or len(call.args) != 2:
                continue
            mask = ctx.gfp_of(fn, call.args[1])
            if not mask.lacks("FS"):
                continue
            target = call.arg_texts[0]
            inode = target.split("->i_mapping")[0] if "->i_mapping" in target else None
            later = [c for c in calls[i + 1:] if c.name == "inode_nohighmem"
                     and inode is not None and c.arg_texts and c.arg_texts[0] == inode
                     and not mutually_exclusive(call.node, c.node)]
            if later:
                yield Hit(
                    line=call.line, function=fn.name, key=f"mapping-order:{target}",
                    severity=Severity.ERROR, confidence=Confidence.HIGH,
                    message=(f"inode_nohighmem({inode}) at line {later[0].line} rewrites the "
                             f"mapping's gfp mask and silently drops the NOFS restriction set "
                             f"here in {fn.ref}; set the mask after it (or better, "
                             "use a memalloc_nofs_save() scope where the lock is held)"),
                )
                continue
            words = set(ctx.paths.special_mapping_names)
            special = ctx.in_paths(ctx.paths.special_mappings) or any(
                word in words for word in _identifiers(call.args[0]))
            yield Hit(
                line=call.line, function=fn.name, key=f"mapping-nofs:{target}",
                severity=Severity.ADVICE if special else None,
                confidence=Confidence.MEDIUM if special else None,
                message=(f"removing __GFP_FS from all of {target} in {fn.ref} is a "
                         "big hammer: every page-cache allocation for these files loses fs "
                         "reclaim to fix one context. Which lock is held when these folios are "
                         "allocated? A memalloc_nofs_save() scope there fixes the recursion "
                         "without it"),
                suggestion="memalloc_nofs_save()/restore() where the reclaim-shared lock is held",
            )


def _identifiers(node: Node) -> set[str]:
    out = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type in ("identifier", "field_identifier"):
            out.add(node_text(cur))
        stack.extend(cur.named_children)
    return out


_GFPLESS_OK = ("vmalloc", "vzalloc", "vmap", "vm_map_ram", "bdev_read_folio",
               "read_mapping_folio", "read_mapping_page", "read_cache_page",
               "invalidate_inode_pages2", "invalidate_inode_pages2_range",
               "truncate_inode_pages", "filemap_fdatawrite", "page_symlink",
               "percpu_init_rwsem", "alloc_percpu", "grab_cache_page_write_begin")


@rule(id="NOFS-006", name="scope-wraps-single-call", category=Category.NOFS_MISUSE,
      severity=Severity.ADVICE, confidence=Confidence.MEDIUM)
def scope_wraps_single_call(ctx: ImageContext) -> Iterator[Hit]:
    """A memalloc_nofs scope around exactly one allocation.

    ## What it does
    Flags memalloc_nofs_save(), one statement, memalloc_nofs_restore() in a row
    when that one statement is an allocation that takes a gfp mask.

    ## Why is this bad?
    A scope around one call is GFP_NOFS spelt differently. Matthew Wilcox: "This
    is the wrong way to use memalloc_nofs_save/restore. They should be used at
    the point that the filesystem takes/releases whatever lock is also used
    during reclaim." Put the scope where the lock or transaction is taken so
    later allocations are covered too.

    ## Example
    ```diff
    --- a/fs/foo/xattr.c
    +++ b/fs/foo/xattr.c
    @@ -50,6 +50,8 @@ static int foo_xattr_set(struct inode *inode, size_t len)
     	void *buf;
     
     	down_write(&fi->xattr_sem);
    +	nofs = memalloc_nofs_save();
     	buf = kmalloc(len, GFP_KERNEL);
    +	memalloc_nofs_restore(nofs);
     	if (!buf)
     		goto out;
    ```

    ## Use instead
    ```diff
    --- a/fs/foo/xattr.c
    +++ b/fs/foo/xattr.c
    @@ -50,6 +50,7 @@ static int foo_xattr_set(struct inode *inode, size_t len)
     	void *buf;
     
     	down_write(&fi->xattr_sem);
    +	nofs = memalloc_nofs_save();	/* xattr_sem is taken in evict */
     	buf = kmalloc(len, GFP_KERNEL);
     	if (!buf)
     		goto out;
    ```

    ## Known problems
    Callees that take no gfp (vmalloc without gfp, vmap, vm_map_ram,
    bdev_read_folio, invalidate_inode_pages2) can only be constrained by a scope:
    those are skipped, as are __vmalloc/kvmalloc wraps on targets before v5.17
    (the documented workaround). Some maintainers (btrfs) prefer the narrow form.

    ## References
    - Matthew Wilcox on "[PATCH RFC v3 for-6.8/block 09/17] btrfs: use bdev apis" (2023-12-23)
    - Jan Kara to J. R. Okajima (2020-02, ext4 xattr_sem)
    """
    nofs_fixed = KernelVersion.parse(ctx.tables.vmalloc.nofs_supported_since)
    for fn in ctx.functions:
        if fn.body is None or not any(c.name in ctx.tables.scope.save_kind for c in fn.calls):
            continue
        for block in ctx.unit.iter_nodes(fn.body, frozenset({"compound_statement"})):
            stmts = [c for c in block.named_children if c.type != "comment"]
            for a, b, c in zip(stmts, stmts[1:], stmts[2:], strict=False):
                save = _only_call(ctx, a, ctx.tables.scope.save_kind)
                restore = _only_call(ctx, c, ctx.tables.scope.restore_kind)
                if save is None or restore is None:
                    continue
                calls = ctx.unit.calls_in(b)
                if not calls:
                    continue
                main = calls[0]
                if main.name in _GFPLESS_OK:
                    continue
                vcall = ctx.vmalloc_call(main)
                if vcall is not None and ctx.version < nofs_fixed:
                    continue
                if ctx.alloc_gfp(fn, main) is None:
                    continue
                line = ctx.unit.first_real_line(a)
                if line is None:
                    continue
                yield Hit(
                    line=line, function=fn.name, key=f"single-call:{main.name}",
                    message=(f"a scope around one {main.name}() call in {fn.ref} is "
                             "GFP_NOFS spelt differently; put memalloc_nofs_save() where the "
                             "lock or transaction reclaim could deadlock on is taken, so later "
                             "allocations are covered too"),
                )


def _only_call(ctx: ImageContext, stmt: Node, names: dict[str, str]) -> str | None:
    if stmt.type not in ("expression_statement", "declaration"):
        return None
    calls = ctx.unit.calls_in(stmt)
    if len(calls) == 1 and calls[0].name in names:
        return calls[0].name
    return None


@rule(id="NOFS-007", name="kernel-alloc-under-nofs-context", category=Category.NOFS_MISUSE,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def kernel_alloc_under_nofs_context(ctx: ImageContext) -> Iterator[Hit]:
    """GFP_KERNEL allocation while a transaction or reclaim-shared lock is held.

    ## What it does
    Flags a GFP_KERNEL (or gfp-less, GFP_KERNEL-by-default) allocation between a
    transaction begin and end that does not imply NOFS (btrfs, f2fs, gfs2, nilfs2,
    ext4/jbd2 before v4.12, sb_start_intwrite), or while a lock reclaim needs is
    held (ext4 s_writepages_rwsem/xattr_sem, nilfs2 ns_segctor_sem, btrfs tree
    locks), with no NOFS scope covering it.

    ## Why is this bad?
    Direct reclaim from this allocation can evict an inode or write back a page
    of the same filesystem and wait for the very transaction or lock this task
    holds. Real cases: nilfs2 page_symlink() under ns_segctor_sem (b3a033e3ecd3),
    the btrfs DREW lock percpu allocation under a transaction, Lustre LU-10859
    (GFP_KERNEL with a jbd2 handle open on a kernel without the jbd2 scope).

    ## Example
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -30,6 +30,7 @@ static int btrfs_foo_create(struct btrfs_root *root)
     	trans = btrfs_start_transaction(root, 1);
     	if (IS_ERR(trans))
     		return PTR_ERR(trans);
    +	item = kmalloc(sizeof(*item), GFP_KERNEL);
     	ret = btrfs_insert_foo(trans, root, item);
     	btrfs_end_transaction(trans);
     	return ret;
    ```

    ## Use instead
    ```diff
    --- a/fs/btrfs/foo.c
    +++ b/fs/btrfs/foo.c
    @@ -30,6 +30,7 @@ static int btrfs_foo_create(struct btrfs_root *root)
     	trans = btrfs_start_transaction(root, 1);
     	if (IS_ERR(trans))
     		return PTR_ERR(trans);
    +	item = kmalloc(sizeof(*item), GFP_NOFS);
     	ret = btrfs_insert_foo(trans, root, item);
     	btrfs_end_transaction(trans);
     	return ret;
    ```

    ## Known problems
    Regions are followed in source order inside one function; a transaction held
    by the caller is only seen in tree mode. The lock table is configurable.

    ## References
    - b3a033e3ecd3 "nilfs2: fix potential deadlock with newly created symlinks"
    - "Re: [PATCH] percpu: make pcpu_alloc() aware of current gfp context" (2020-04-30)
    - Lustre LU-10859
    """
    lockdep = ctx.patch.message_mentions("lockdep", "syzbot", "circular locking")
    for fn in ctx.functions:
        for alloc in allocations(ctx, fn):
            gfp = alloc.gfp
            if gfp is not None and not gfp.has("FS"):
                continue
            if alloc.implicit_kernel and ctx.vmalloc_call(alloc.call) is not None:
                continue  # VMALLOC-002 owns gfp-less vmalloc
            regions = ctx.regions_at(fn, alloc.call.line)
            if not regions or any(r.makes_nofs for r in regions):
                continue
            needs = [r for r in regions if r.needs_nofs]
            if not needs:
                continue
            held = needs[-1]
            spelled = "GFP_KERNEL" if gfp is not None else "GFP_KERNEL (implicitly)"
            yield Hit(
                line=alloc.call.line, function=fn.name,
                key=f"kernel-under:{alloc.call.name}:{held.label}",
                severity=Severity.ERROR if lockdep else None,
                message=(f"{alloc.call.name}() allocates with {spelled} while {held.label} is "
                         f"held ({held.open_call}() at line {held.open_line}) in "
                         f"{fn.ref}; reclaim can enter evict/writeback on this fs "
                         "and wait for it. Use GFP_NOFS or a memalloc_nofs_save() scope "
                         "covering the section"),
                suggestion="memalloc_nofs_save() right after the lock/transaction is taken",
            )
