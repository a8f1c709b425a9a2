"""Validation-free Numba kernels behind :func:`tsengine.window.aggregate_table`.

Every kernel trusts its inputs: int64 ns times sorted within each group, row and window
bounds inside the arrays, windows ordered by group then start. The public wrapper checks
all of that before calling here. Modules:

- ``ranges``: sortedness checks, window enumeration, window -> row ranges;
- ``reduce``: segment reductions (count, compensated sum, extremes, moments);
- ``sliding``: combining per-pane states into overlapping windows without recomputing;
- ``order``: exact quantiles (per-window sort, or a Fenwick tree over ranks);
- ``timeweight``: time-weighted average, integral and rate;
- ``grouping``: run detection on tag columns, block permutations;
- ``fill``: filling empty windows (previous, linear).
"""
