"""Text normalization shared by header matching and state names."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
CONNECTING_WORDS = frozenset({"de", "del", "la", "el", "los", "las"})


@lru_cache(maxsize=4096)
def normalize_key(text: str) -> str:
    """``Número de Cuenta`` -> ``numero_cuenta``: case, accents, spaces, punctuation and the
    connecting words de/del/la/el (and plurals) ignored."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = [w for w in _NON_ALNUM.split(ascii_only) if w and w not in CONNECTING_WORDS]
    return "_".join(words)
