"""What one message may cost: [limits] time and memory bounds around the analysis.

The analysis core checks a deadline between files and rules; here a timer
signal also interrupts one slow rule, a memory cap (RLIMIT_DATA) is set for
the watcher, and a patch whose syntax trees could not fit under it fails
before tree-sitter starts (tree-sitter cannot fail gracefully).
"""

from __future__ import annotations

import re
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from heuristics import PatchInput, analyse
from heuristics.engine import Analysis, AnalysisTimeout
from heuristics.inputs import c_files
from heuristics.registry import Rule
from heuristics.tables import ApiTables
from reviewbot.config import Settings


class Deadline:
    """A time budget: ``expired()`` turns True ``seconds`` after it was made."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.end = clock() + seconds

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.clock() >= self.end


def timeout_message(settings: Settings) -> str:
    """The reason a patch whose analysis ran out of time is skipped."""
    seconds = settings.limits.max_seconds_per_message
    return (f"skipped: the analysis took longer than [limits] max_seconds_per_message "
            f"({seconds:g} s)")


# tree-sitter needs up to about 200 bytes per token of C (a file of ";;;;" or of
# error-recovery garbage; ordinary code needs about 40), and it cannot fail
# gracefully: when malloc fails under the memory cap it crashes the process.
TREE_BYTES_PER_TOKEN = 200
_TOKEN_RE = re.compile(r"\w+|\S")


def _data_headroom() -> int | None:
    """Bytes the data segment may still grow under RLIMIT_DATA (None: no cap known)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            used = next(int(line.split()[1]) * 1024 for line in status
                        if line.startswith("VmData:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return soft - used


def check_memory(patch: PatchInput) -> None:
    """MemoryError before parsing when the syntax trees could not fit under the memory cap."""
    headroom = _data_headroom()
    if headroom is None:
        return
    tokens = 0
    for change in c_files(patch.files):
        texts = [t for t in (change.post_text, change.pre_text) if t is not None]
        if not texts:
            texts = ["\n".join(line.text for hunk in change.hunks for line in hunk.lines)]
        tokens += sum(_TOKEN_RE.subn("", text)[1] for text in texts)
    need = tokens * TREE_BYTES_PER_TOKEN
    if need > headroom:
        raise MemoryError(f"parsing needs up to {need >> 20} MiB, {max(headroom, 0) >> 20} MiB "
                          "left under [limits] max_memory_mb")


def analyse_limited(patch: PatchInput, tables: ApiTables, rules: Sequence[Rule],
                    settings: Settings) -> Analysis:
    """``analyse`` within [limits] max_seconds_per_message (AnalysisTimeout when over).

    The core checks the deadline between files and rules; in the main thread a
    timer signal also interrupts a single slow rule at the deadline. Under a
    memory cap, a patch whose syntax trees could not fit raises MemoryError first.
    """
    check_memory(patch)
    seconds = settings.limits.max_seconds_per_message
    deadline = Deadline(seconds)
    with _alarm(seconds):
        return analyse(patch, tables, rules, expired=deadline.expired)


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise AnalysisTimeout("the time for this patch ran out")


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """SIGALRM after ``seconds`` raises AnalysisTimeout (main thread, timer not in use)."""
    usable = (threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))
    if not usable:
        yield
        return
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def limit_memory(megabytes: int) -> None:
    """Cap this process's data segment (heap and anonymous mappings) at ``megabytes``.

    RLIMIT_DATA, not RLIMIT_AS: read-only file mappings (git pack windows) do
    not count. An allocation beyond the cap raises MemoryError, and the message
    being handled is recorded as failed; the processes started from here (git)
    inherit the cap. 0 leaves the limit alone; a lower existing limit is kept.
    """
    if megabytes <= 0:
        return
    wanted = megabytes * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft == resource.RLIM_INFINITY or wanted < soft:
        resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
