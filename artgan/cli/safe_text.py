"""Text that came from a file, made safe to print.

A checkpoint's config (component names, notes, paths), file names in a data folder or
the owner in a lock file are untrusted: printed raw, an escape sequence in them would
drive the terminal (``ESC c`` resets it, others retitle the window or move the cursor).
:func:`clean` shows control characters as visible escapes (``\\x1b``); :func:`markup`
also escapes rich markup, so a name like ``[red]`` is printed as it is, not as a style.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides
# that reorder what is displayed ("Trojan source")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``); newlines
    are kept (``newlines=False``: shown as ``\\x0a`` too), and tabs."""
    text = _UNSAFE.sub(_visible, str(text))
    return text if newlines else text.replace("\n", "\\x0a")


def markup(text: object, *, newlines: bool = True) -> str:
    """:func:`clean`, with rich markup escaped: for text inside ``console.print``."""
    from rich.markup import escape

    return escape(clean(text, newlines=newlines))
