"""Make untrusted text safe for a terminal: no escape sequences, no control characters."""

from __future__ import annotations

import re

# C0 controls except tab, DEL, and C1 controls (which include CSI, 0x9b).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Replace control characters (ESC, CR, newlines, C1) with visible \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
