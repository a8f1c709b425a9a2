"""Whether the window kernels may run from several threads at once.

The window kernels are Numba ``parallel=True`` functions. Numba runs them on one of
three threading layers: TBB and OpenMP accept calls from several Python threads at
once; the workqueue layer, Numba's fallback when neither library loads (no
``libgomp``, no ``tbb``), detects such a call and aborts the whole process. An
engine serving two Flight clients, or a service aggregating from a thread pool,
would then die on its second concurrent query. :func:`kernel_section` prevents
that: where only workqueue is available, it lets one aggregate at a time run its
kernels (others wait), and it costs nothing where the layer is thread-safe.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterator

import numba

_POOLS = {"tbb": "numba.np.ufunc.tbbpool", "omp": "numba.np.ufunc.omppool"}
_SERIAL = threading.RLock()
_safe: bool | None = None


def _loads(layer: str) -> bool:
    """Whether Numba's pool for ``layer`` loads (its library is installed)."""
    try:
        importlib.import_module(_POOLS[layer])
    except (ImportError, OSError):
        return False
    return True


def thread_safe_layer() -> bool:
    """Whether the layer Numba will use accepts concurrent parallel calls.

    Follows Numba's own choice: an explicit ``NUMBA_THREADING_LAYER``, else the
    first layer of its priority list whose library loads.
    """
    layer = numba.config.THREADING_LAYER
    if layer == "workqueue":
        return False
    if layer in _POOLS or layer in ("safe", "threadsafe"):
        return True  # Numba refuses to start without such a layer
    for name in numba.config.THREADING_LAYER_PRIORITY:
        if name == "workqueue":
            return False
        if name in _POOLS and _loads(name):
            return True
    return False


@contextlib.contextmanager
def kernel_section() -> Iterator[None]:
    """Run parallel kernels; one thread at a time if the layer is not thread-safe."""
    global _safe
    if _safe is None:
        _safe = thread_safe_layer()
    if _safe:
        yield
        return
    with _SERIAL:
        yield
