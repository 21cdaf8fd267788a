"""Changes that take NOFS away: NOFS->KERNEL, a removed scope, a dropped gfp argument."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from heuristics.context import ChangeBlock, ChangeContext
from heuristics.cparse import Call, node_text
from heuristics.gfp import GfpValue
from heuristics.regions import Region


@dataclass(frozen=True, slots=True)
class Dropped:
    """One place where the patch removed a NOFS constraint."""

    line: int
    what: str
    key: str
    kind: str  # "converted" | "scope-removed" | "mapping-removed" | "gfp-dropped"
    takes_locks: tuple[Region, ...] = ()


def _block_calls(ctx: ChangeContext, block: ChangeBlock) -> tuple[list[Call], list[Call]]:
    return (list(ctx.calls_on(ctx.pre, block.removed)),
            list(ctx.calls_on(ctx.post, block.added)))


def _gfp(ctx: ChangeContext, image: str, call: Call) -> GfpValue | None:
    img = ctx.pre if image == "pre" else ctx.post
    if img is None:
        return None
    fn = img.unit.function_at(call.line)
    if fn is None:
        return None
    got = img.alloc_gfp(fn, call)
    return got[1] if got is not None else None


def _hunk_adds_nofs(ctx: ChangeContext, hunk_index: int) -> bool:
    """Whether a hunk adds an allocation with an explicit NOFS/NOIO mask."""
    hunk = ctx.change.hunks[hunk_index]
    added = [ln for ln in hunk.lines if ln.kind == "+"]
    for call in ctx.calls_on(ctx.post, added):
        value = _gfp(ctx, "post", call)
        if value is not None and value.forbids_fs:
            return True
    return False


def _is_gfp_variable(ctx: ChangeContext, call: Call, arg: Node) -> bool:
    """An argument that carries a caller's gfp: a gfp_t parameter or a *gfp* variable."""
    if arg.type != "identifier" or ctx.pre is None:
        return False
    name = node_text(arg)
    if ctx.pre.patch.gfp.named(name) is not None:
        return False
    fn = ctx.pre.unit.function_at(call.line)
    if fn is not None and name in fn.param_names_of_type("gfp_t"):
        return True
    return "gfp" in name.lower()


def dropped_nofs(ctx: ChangeContext) -> Iterator[Dropped]:
    """Every NOFS constraint the change removes, anchored in the post-image."""
    if ctx.pre is None:
        return
    scope = ctx.tables.scope
    post_names = {fn.name for fn in ctx.post.functions if fn.name}
    for block in ctx.blocks:
        removed, added = _block_calls(ctx, block)
        if not removed:
            continue
        added_by_name: dict[str, list[Call]] = {}
        for call in added:
            added_by_name.setdefault(call.name, []).append(call)

        # 1. An allocation's mask goes from NOFS/NOIO to one that allows fs reclaim.
        for old in removed:
            before = _gfp(ctx, "pre", old)
            if before is None or not before.forbids_fs:
                continue
            candidates = added_by_name.get(old.name, [])
            if not candidates and len(added) == 1 and len(removed) == 1:
                candidates = added
            for new in candidates[:1]:
                after = _gfp(ctx, "post", new)
                if after is None or not after.has("FS") or after.has("NOLOCKDEP"):
                    continue
                yield Dropped(new.line, f"{before.describe()} became {after.describe()} for "
                              f"{new.name}()", f"nofs-to-kernel:{new.name}", "converted")

        # 2. A scope (or a helper that opened one) is removed and nothing replaces it:
        # neither another scope nor explicit NOFS masks on the calls it covered.
        saves = [c for c in removed if scope.save_kind.get(c.name) in ("nofs", "noio", "flags")
                 or c.name in ctx.patch.openers]
        if saves:
            pre_fn = ctx.pre.unit.function_at(saves[0].line)
            if pre_fn is None or pre_fn.name not in post_names:
                pass  # the whole function went away (or was renamed): not a removed scope
            elif not any(scope.save_kind.get(c.name) in ("nofs", "noio", "flags")
                         or c.name in ctx.patch.openers for c in added) \
                    and not _hunk_adds_nofs(ctx, block.hunk_index):
                save = saves[0]
                post_fn = ctx.post.unit.function_at(block.anchor)
                locks: tuple[Region, ...] = ()
                if post_fn is not None:
                    locks = tuple(r for r in ctx.post.regions(post_fn)
                                  if r.needs_nofs and r.open_line in
                                  {ln.new_no for ln in block.added})
                what = (f"the {save.name}() scope is removed" if save.name in scope.save_kind
                        else f"the NOFS scope that {save.name}() opened is gone")
                yield Dropped(block.anchor, what, f"scope-removed:{save.name}", "scope-removed",
                              locks)

        # 3. A mapping's NOFS mask is no longer set (page-cache allocations for it
        # go back to GFP_KERNEL).
        for old in removed:
            if old.name != "mapping_set_gfp_mask" or len(old.args) != 2:
                continue
            fn = ctx.pre.unit.function_at(old.line)
            if fn is None or not ctx.pre.gfp_of(fn, old.args[1]).lacks("FS"):
                continue
            if any(c.name == "mapping_set_gfp_mask" for c in added):
                continue
            yield Dropped(block.anchor, f"the NOFS mask of {old.arg_texts[0]} is no longer set",
                          f"mapping-mask-removed:{old.arg_texts[0]}", "mapping-removed")

        # 4. The caller's gfp no longer reaches a callee.
        for old in removed:
            gfp_args = [a for a in old.args if _is_gfp_variable(ctx, old, a)]
            if not gfp_args:
                continue
            var = node_text(gfp_args[0])
            for new in added_by_name.get(old.name, [])[:1]:
                texts = new.arg_texts
                if var in texts:
                    continue
                after = _gfp(ctx, "post", new)
                if after is not None and not after.has("FS"):
                    continue  # replaced by another NOFS-ish mask
                how = (f"now gets {after.describe()}" if after is not None and after.known
                       else "no longer gets it")
                yield Dropped(new.line, f"{new.name}() used the caller's gfp ({var}) and {how}",
                              f"gfp-dropped:{new.name}", "gfp-dropped")
