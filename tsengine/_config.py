"""Settings shared by every native kernel, kept in one place.

``NJIT`` is the option set for ``numba.njit`` on every kernel. ``fastmath`` is never on:
codecs must be bit-exact and aggregates must see NaN as NaN.
"""

from __future__ import annotations

import os

#: Keyword arguments for ``numba.njit`` used by all tsengine kernels.
NJIT = {
    "cache": os.environ.get("TSENGINE_NUMBA_CACHE", "1") != "0",
    "nogil": True,
    "fastmath": False,
    "error_model": "numpy",
}

#: Largest record batch a reader streams at once, in bytes (Flight, exports).
MAX_BATCH_BYTES = 4 * 1024 * 1024
