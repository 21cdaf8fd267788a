"""VMALLOC-0xx: vmalloc/kvmalloc with NOFS/NOIO, judged by target kernel (``vmalloc-nofs``)."""

from __future__ import annotations

from collections.abc import Iterator

from heuristics.context import ChangeContext, ImageContext
from heuristics.dropped import dropped_nofs
from heuristics.model import Category, Confidence, KernelVersion, Severity
from heuristics.queries import allocations
from heuristics.registry import Hit, rule


def _v(text: str) -> KernelVersion:
    return KernelVersion.parse(text)


@rule(id="VMALLOC-001", name="vmalloc-nofs-unsupported", category=Category.VMALLOC_NOFS,
      severity=Severity.ERROR, confidence=Confidence.HIGH)
def vmalloc_nofs_unsupported(ctx: ImageContext) -> Iterator[Hit]:
    """vmalloc/kvmalloc called with GFP_NOFS or GFP_NOIO.

    ## What it does
    Flags __vmalloc*, vmalloc_huge, kvmalloc*, kvzalloc*, kvcalloc,
    kvmalloc_array and kvrealloc called with a mask lacking __GFP_FS or __GFP_IO
    (spelt out, or a variable set to one) and no matching scope in the function.
    An error for targets before v5.17, advice from v5.17 on.

    ## Why is this bad?
    Before v5.17 vmalloc allocates page tables and internal structures with
    GFP_KERNEL whatever the caller asks, so the NOFS constraint silently does not
    hold (Johannes Weiner, 2011: vmalloc "does a GFP_KERNEL allocation if it has
    to allocate page table pages, even when invoked with GFP_NOFS"). kvmalloc()
    WARNed for such masks on v4.12-v4.17 and, from v4.18 (ce91f6ee5b3b), quietly
    became kmalloc-only, so large NOFS requests just fail. 451769ebb7e7 (v5.17)
    fixed vmalloc; the KASAN shadow population stayed GFP_KERNEL until 2025.

    ## Example
    ```diff kernel=5.10
    --- a/fs/foo/buf.c
    +++ b/fs/foo/buf.c
    @@ -60,7 +60,7 @@ static void *foo_alloc_large(size_t size)
     {
     	void *ptr;
     
    -	ptr = vmalloc(size);
    +	ptr = __vmalloc(size, GFP_NOFS);
     	if (ptr)
     		memset(ptr, 0, size);
     	return ptr;
    ```

    ## Use instead
    ```diff kernel=5.10
    --- a/fs/foo/buf.c
    +++ b/fs/foo/buf.c
    @@ -60,7 +60,9 @@ static void *foo_alloc_large(size_t size)
     {
     	void *ptr;
    +	unsigned int nofs = memalloc_nofs_save();	/* vmalloc ignores GFP_NOFS */
     
     	ptr = vzalloc(size);
    +	memalloc_nofs_restore(nofs);
     	if (ptr)
     		memset(ptr, 0, size);
     	return ptr;
    ```

    ## Known problems
    When the target kernel is unknown the current mainline applies (advice) and
    the message names the affected stable trees. The target comes from
    --kernel-version, a stable subject prefix, the tree's Makefile or the mail's
    date.

    ## References
    - 451769ebb7e7 "mm/vmalloc: alloc GFP_NO{FS,IO} for vmalloc" (v5.17)
    - ce91f6ee5b3b "mm: kvmalloc does not fallback to vmalloc for incompatible gfp flags"
    - a421ef303008 "mm: allow !GFP_KERNEL allocations for kvmalloc"
    - "Re: XFS memory allocation deadlock in 2.6.38" (Johannes Weiner, 2011-03-29)
    - syzbot "possible deadlock in evict (3)" (2023-02)
    """
    vm = ctx.tables.vmalloc
    fixed = _v(vm.nofs_supported_since)
    warn_since, kmalloc_only = _v(vm.kvmalloc_warn_since), _v(vm.kvmalloc_kmalloc_only_since)
    for fn in ctx.functions:
        for alloc in allocations(ctx, fn):
            vcall = ctx.vmalloc_call(alloc.call)
            gfp = alloc.gfp
            if vcall is None or vcall.family not in ("vmalloc", "kvmalloc") or gfp is None:
                continue
            if not (gfp.lacks("FS") or gfp.lacks("IO")) or gfp.nonblocking:
                continue
            regions = ctx.regions_at(fn, alloc.call.line)
            if any(r.kind == "scope" and r.makes_nofs for r in regions):
                continue
            mask = gfp.describe()
            name = alloc.call.name
            if ctx.version < fixed:
                if vcall.family == "kvmalloc" and ctx.version >= kmalloc_only:
                    detail = (f"kvmalloc() with {mask} never falls back to vmalloc on "
                              f"v{ctx.version} (v{kmalloc_only}-v5.16), so large requests just "
                              "fail")
                elif vcall.family == "kvmalloc" and ctx.version >= warn_since:
                    detail = (f"kvmalloc() WARNs for {mask} on v{ctx.version} "
                              f"(v{warn_since}-v4.17)")
                else:
                    detail = (f"{name}() ignores {mask} on v{ctx.version}: page tables are "
                              "allocated with GFP_KERNEL")
                yield Hit(
                    line=alloc.call.line, function=fn.name, key=f"vmalloc-nofs:{name}",
                    message=(f"{detail} (fixed in v{fixed} by 451769ebb7e7). In "
                             f"{fn.ref} use GFP_KERNEL inside memalloc_nofs_save()/"
                             "restore(), with a comment"),
                    suggestion="memalloc_nofs_save(); __vmalloc(size, GFP_KERNEL); "
                               "memalloc_nofs_restore()",
                )
                continue
            held = [r for r in regions if r.needs_nofs]
            kasan = (f" {held[-1].label} is held here, and until the 2025 KASAN fix shadow "
                     "pages were still GFP_KERNEL: a scope around the whole call is safer."
                     if held else "")
            yield Hit(
                line=alloc.call.line, function=fn.name, key=f"vmalloc-nofs:{name}",
                severity=Severity.ADVICE, confidence=Confidence.MEDIUM,
                message=(f"{name}() honours {mask} only since v{fixed} (451769ebb7e7); on "
                         f"older stable trees it allocates page tables with GFP_KERNEL"
                         f"{' and kvmalloc is kmalloc-only' if vcall.family == 'kvmalloc' else ''}"
                         f".{kasan} A backport needs a memalloc_nofs_save() scope instead"),
            )


@rule(id="VMALLOC-002", name="implicit-kernel-vmalloc-in-nofs", category=Category.VMALLOC_NOFS,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM)
def implicit_kernel_vmalloc_in_nofs(ctx: ImageContext) -> Iterator[Hit]:
    """gfp-less vmalloc/vmap/alloc_percpu inside a NOFS-required region.

    ## What it does
    Flags vmalloc(), vzalloc(), vmap(), vm_map_ram() and (before v5.7)
    alloc_percpu() added while a transaction that does not imply NOFS or a
    reclaim-shared lock is held, or inside a reclaim callback, with no scope.

    ## Why is this bad?
    These calls take no gfp and always allocate with GFP_KERNEL; with the lock
    held, reclaim can recurse into the filesystem and wait on it. Only a
    memalloc_nofs_save() scope constrains them.

    ## Example
    ```diff
    --- a/fs/nilfs2/foo.c
    +++ b/fs/nilfs2/foo.c
    @@ -30,6 +30,7 @@ static int nilfs_foo_grow(struct nilfs_sb_info *sbi, size_t size)
     	down_write(&nilfs->ns_segctor_sem);
     	old = sbi->table;
    +	sbi->table = vzalloc(size);
     	nilfs_foo_copy(sbi, old);
     	up_write(&nilfs->ns_segctor_sem);
     	return 0;
    ```

    ## Use instead
    ```diff
    --- a/fs/nilfs2/foo.c
    +++ b/fs/nilfs2/foo.c
    @@ -30,6 +30,9 @@ static int nilfs_foo_grow(struct nilfs_sb_info *sbi, size_t size)
     	down_write(&nilfs->ns_segctor_sem);
     	old = sbi->table;
    +	nofs = memalloc_nofs_save();	/* ns_segctor_sem is taken in evict */
    +	sbi->table = vzalloc(size);
    +	memalloc_nofs_restore(nofs);
     	nilfs_foo_copy(sbi, old);
     	up_write(&nilfs->ns_segctor_sem);
     	return 0;
    ```

    ## Known problems
    ext4, XFS and ocfs2 transactions are scopes and are not flagged. Regions are
    followed in source order within one function.

    ## References
    - 451769ebb7e7 changelog (scope workarounds around single vmalloc calls)
    - 28307d938fb2 "percpu: make pcpu_alloc() aware of current gfp context" (v5.7)
    """
    percpu_fixed = _v(ctx.tables.vmalloc.percpu_scope_aware_since)
    for fn in ctx.functions:
        callback = ctx.callback_kinds(fn) & {"evict_inode", "destroy_inode", "shrinker_scan",
                                             "release_folio"}
        for call in fn.calls:
            vcall = ctx.vmalloc_call(call)
            if vcall is None or vcall.gfp_index(len(call.args)) is not None:
                continue
            if vcall.family == "percpu" and ctx.version >= percpu_fixed:
                continue
            regions = ctx.regions_at(fn, call.line)
            if any(r.makes_nofs for r in regions):
                continue
            needs = [r for r in regions if r.needs_nofs]
            if needs:
                ctx_text = f"{needs[-1].label} held ({needs[-1].open_call}() at line " \
                           f"{needs[-1].open_line})"
            elif callback:
                ctx_text = f"the {sorted(callback)[0]} callback reclaim calls"
            else:
                continue
            yield Hit(
                line=call.line, function=fn.name, key=f"implicit-vmalloc:{call.name}",
                message=(f"{call.name}() always allocates with GFP_KERNEL; with {ctx_text} in "
                         f"{fn.ref}, reclaim can recurse into the filesystem. Wrap "
                         "it in memalloc_nofs_save()/restore()"),
                suggestion="memalloc_nofs_save() around the section",
            )


@rule(id="VMALLOC-003", name="kvmalloc-nonblocking", category=Category.VMALLOC_NOFS,
      severity=Severity.ADVICE, confidence=Confidence.HIGH)
def kvmalloc_nonblocking(ctx: ImageContext) -> Iterator[Hit]:
    """kvmalloc with GFP_ATOMIC/GFP_NOWAIT, or __GFP_NOFAIL before v5.17.

    ## What it does
    Flags the kvmalloc family called with a non-blocking mask on targets before
    v6.19 (advice), and with __GFP_NOFAIL on targets before v5.17 (warning).

    ## Why is this bad?
    kvmalloc never used vmalloc for non-blocking masks until c6307674ed82 (v6.19),
    so the call is plain kmalloc and large sizes fail. __GFP_NOFAIL was not
    supported by kvmalloc/vmalloc before 9376130c390a (v5.17): the erofs
    kvcalloc(__GFP_NOFAIL) fix and its 2023 revert are about exactly this.

    ## Example
    ```diff kernel=6.6
    --- a/fs/foo/cache.c
    +++ b/fs/foo/cache.c
    @@ -20,6 +20,6 @@ static int foo_cache_grow(struct foo_cache *c, size_t n)
     {
     	void *tbl;
     
    -	tbl = kmalloc_array(n, sizeof(void *), GFP_ATOMIC);
    +	tbl = kvmalloc_array(n, sizeof(void *), GFP_ATOMIC);
     	if (!tbl)
     		return -ENOMEM;
    ```

    ## Use instead
    ```diff kernel=6.6
    --- a/fs/foo/cache.c
    +++ b/fs/foo/cache.c
    @@ -20,6 +20,6 @@ static int foo_cache_grow(struct foo_cache *c, size_t n)
     {
     	void *tbl;
     
    -	tbl = kmalloc_array(n, sizeof(void *), GFP_ATOMIC);
    +	tbl = kvmalloc_array(n, sizeof(void *), GFP_KERNEL);
     	if (!tbl)
     		return -ENOMEM;
    ```

    ## Known problems
    The v6.19 boundary comes from the mm tree's late-2025 series; plain
    __vmalloc() with GFP_NOWAIT is also only supported from there.

    ## References
    - c6307674ed82 "mm: kvmalloc: add non-blocking support for vmalloc"
    - 9376130c390a "mm/vmalloc: add support for __GFP_NOFAIL"
    - erofs "fix kvcalloc() misuse with __GFP_NOFAIL" and its revert (Gao Xiang, 2023)
    """
    vm = ctx.tables.vmalloc
    nonblock_since, nofail_since = _v(vm.nonblocking_supported_since), _v(vm.nofail_supported_since)
    for fn in ctx.functions:
        for alloc in allocations(ctx, fn):
            vcall = ctx.vmalloc_call(alloc.call)
            gfp = alloc.gfp
            if vcall is None or gfp is None or vcall.family not in ("kvmalloc", "vmalloc"):
                continue
            name = alloc.call.name
            if gfp.nofail and ctx.version < nofail_since:
                yield Hit(
                    line=alloc.call.line, function=fn.name, key=f"kv-nofail:{name}",
                    severity=Severity.WARNING,
                    message=(f"{name}() does not support __GFP_NOFAIL before v{nofail_since} "
                             f"(9376130c390a); in {fn.ref} use kmalloc with NOFAIL "
                             "for small sizes or handle failure"),
                )
            elif gfp.nonblocking and vcall.family == "kvmalloc" and ctx.version < nonblock_since:
                yield Hit(
                    line=alloc.call.line, function=fn.name, key=f"kv-nonblock:{name}",
                    message=(f"{name}() with {gfp.describe()} never uses vmalloc before "
                             f"v{nonblock_since} (c6307674ed82): in {fn.ref} this is "
                             "kmalloc and large sizes fail"),
                )


@rule(id="VMALLOC-004", name="open-coded-fallback-conversion", category=Category.VMALLOC_NOFS,
      severity=Severity.WARNING, confidence=Confidence.MEDIUM, kind="change",
      modes=("hunk", "tree"))
def open_coded_fallback_conversion(ctx: ChangeContext) -> Iterator[Hit]:
    """kmalloc-then-vmalloc fallback replaced by kvmalloc with NOFS flags.

    ## What it does
    Flags a change that removes an open-coded kmalloc()/vmalloc() fallback and
    adds a kvmalloc-family call whose mask may not be GFP_KERNEL (the caller's
    flags), on targets before v5.17 (advice from v5.17, naming the affected
    trees). Explicit GFP_NOFS/GFP_NOIO masks are VMALLOC-001's.

    ## Why is this bad?
    On v4.18-v5.16 kvmalloc() with such flags is kmalloc-only: the vmalloc
    fallback you remove is lost and large allocations start failing.
    scripts/coccinelle/api/kvmalloc.cocci performs this rewrite without looking
    at the flags.

    ## Example
    ```diff kernel=5.4
    --- a/fs/foo/table.c
    +++ b/fs/foo/table.c
    @@ -40,10 +40,7 @@ static void *foo_table_alloc(size_t size, gfp_t flags)
     {
     	void *p;
     
    -	p = kmalloc(size, flags | __GFP_NOWARN);
    -	if (!p)
    -		p = __vmalloc(size, flags, PAGE_KERNEL);
    -	return p;
    +	p = kvmalloc(size, flags);
    +	return p;
     }
    ```

    ## Use instead
    ```diff kernel=5.4
    --- a/fs/foo/table.c
    +++ b/fs/foo/table.c
    @@ -40,10 +40,10 @@ static void *foo_table_alloc(size_t size, gfp_t flags)
     {
     	void *p;
    +	unsigned int nofs = memalloc_nofs_save();
     
    -	p = kmalloc(size, flags | __GFP_NOWARN);
    -	if (!p)
    -		p = __vmalloc(size, flags, PAGE_KERNEL);
    -	return p;
    +	p = kvmalloc(size, GFP_KERNEL);
    +	memalloc_nofs_restore(nofs);
    +	return p;
     }
    ```

    ## Known problems
    The removed fallback must be visible in the same hunk.

    ## References
    - scripts/coccinelle/api/kvmalloc.cocci
    - ce91f6ee5b3b "mm: kvmalloc does not fallback to vmalloc for incompatible gfp flags"
    """
    vm = ctx.tables.vmalloc
    fixed = _v(vm.nofs_supported_since)
    for block in ctx.blocks:
        removed = list(ctx.calls_on(ctx.pre, block.removed))
        added = list(ctx.calls_on(ctx.post, block.added))
        had_k = any(c.name.startswith(("kmalloc", "kzalloc", "kcalloc")) for c in removed)
        had_v = any((ctx.pre.vmalloc_call(c) if ctx.pre else None) is not None for c in removed)
        if not (had_k and had_v):
            continue
        for call in added:
            vcall = ctx.post.vmalloc_call(call)
            if vcall is None or vcall.family != "kvmalloc":
                continue
            fn = ctx.post.unit.function_at(call.line)
            if fn is None:
                continue
            got = ctx.post.alloc_gfp(fn, call)
            if got is None or got[1].is_kernel:
                continue
            if got[1].lacks("FS") or got[1].lacks("IO"):
                continue  # VMALLOC-001 says it for NOFS/NOIO masks
            old = ctx.patch.version < fixed
            yield Hit(
                line=call.line, function=fn.name, key=f"kv-conversion:{call.name}",
                severity=None if old else Severity.ADVICE,
                message=(f"{call.name}() with {got[1].describe()} is kmalloc-only on v4.18-v5.16"
                         f"{' (this target)' if old else ''}: the vmalloc fallback removed here "
                         f"from {fn.ref} is lost and large allocations fail"),
            )


@rule(id="VMALLOC-005", name="vmalloc-path-drops-gfp", category=Category.VMALLOC_NOFS,
      severity=Severity.ERROR, confidence=Confidence.MEDIUM, kind="change",
      modes=("hunk", "tree"))
def vmalloc_path_drops_gfp(ctx: ChangeContext) -> Iterator[Hit]:
    """The vmalloc implementation stops honouring its caller's gfp.

    ## What it does
    In mm/vmalloc.c, mm/kasan/, mm/percpu*.c and mm/util.c, flags a change that
    replaces the caller's gfp by GFP_KERNEL, stops passing it to a callee, or
    removes the NOFS/NOIO scope that enforced it for page-table allocations.

    ## Why is this bad?
    Since v5.17 filesystems call vmalloc and kvmalloc with GFP_NOFS and rely on
    it. Any allocation on that path that ignores the mask (page tables, KASAN
    shadow, vmap_area nodes) can recurse into the filesystem: syzbot's "possible
    deadlock in evict" came from KASAN shadow population using GFP_KERNEL, fixed
    by 79357cd06d41 "mm/vmalloc, mm/kasan: respect gfp mask in
    kasan_populate_vmalloc()".

    ## Example
    ```diff
    --- a/mm/kasan/shadow.c
    +++ b/mm/kasan/shadow.c
    @@ -340,7 +340,7 @@ static int ___alloc_pages_bulk(struct page **pages, int nr_pages, gfp_t gfp_mask)
     	struct page **page_array = pages;
     
     	while (nr_pages) {
    -		nr_populated = alloc_pages_bulk(gfp_mask, nr_pages, pages);
    +		nr_populated = alloc_pages_bulk(GFP_KERNEL, nr_pages, pages);
     		if (!nr_populated) {
     			___free_pages_bulk(page_array, nr_total - nr_pages);
     			return -ENOMEM;
    ```

    ## Use instead
    ```diff
    --- a/mm/kasan/shadow.c
    +++ b/mm/kasan/shadow.c
    @@ -340,7 +340,7 @@ static int ___alloc_pages_bulk(struct page **pages, int nr_pages, gfp_t gfp_mask)
     	struct page **page_array = pages;
     
     	while (nr_pages) {
    -		nr_populated = alloc_pages_bulk(GFP_KERNEL, nr_pages, pages);
    +		nr_populated = alloc_pages_bulk(gfp_mask, nr_pages, pages);
     		if (!nr_populated) {
     			___free_pages_bulk(page_array, nr_total - nr_pages);
     			return -ENOMEM;
    ```

    ## Known problems
    Only the configured implementation paths are checked; elsewhere the same
    changes are NOFS-003.

    ## References
    - 79357cd06d41 "mm/vmalloc, mm/kasan: respect gfp mask in kasan_populate_vmalloc()"
    - 451769ebb7e7 "mm/vmalloc: alloc GFP_NO{FS,IO} for vmalloc"
    """
    if not ctx.post.in_paths(ctx.tables.vmalloc.implementation_paths):
        return
    for event in dropped_nofs(ctx):
        fn = ctx.post.unit.function_at(event.line)
        where = fn.ref if fn is not None else "this function"
        yield Hit(
            line=event.line, function=fn.name if fn is not None else None, key=event.key,
            message=(f"{event.what} in {where}: on the vmalloc path this lets a GFP_NOFS/"
                     "GFP_NOIO vmalloc caller recurse into the filesystem; keep passing the "
                     "caller's gfp (or its scope) down"),
        )
