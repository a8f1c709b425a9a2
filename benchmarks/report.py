"""The ``tsengine bench`` runner: every suite's figures beside same-run baselines.

:func:`run_suites` runs the suites of :data:`SUITES` (defined, with :class:`Figure`,
:func:`parse_target` and :data:`PENDING`, in :mod:`report_suites` and importable from
here) and collects each one's :class:`Figure` rows in a :class:`SuiteResult`;
:func:`figures_json` flattens them. ``tsengine bench`` (:mod:`tsengine.cli.bench`)
writes the Markdown report, the JSON figures and the PNG charts.

A suite whose module or function does not exist yet is reported as missing, and a
suite that fails is reported with its error: neither ever gets a number.

Run ``python benchmarks/report.py [--quick] [--only core,flight] [--out DIR]`` from the
repository root, or ``tsengine bench``.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the suites import each other by plain name

from report_suites import PENDING, SUITES, Figure  # noqa: E402
from report_suites import parse_target as parse_target  # noqa: E402  (re-exported)

# -- running ------------------------------------------------------------------------


@dataclass
class SuiteResult:
    """Figures of one suite, or why it has none (``missing`` or ``error``)."""

    name: str
    module: str
    about: str
    figures: list[Figure] = field(default_factory=list)
    detail: str = ""
    seconds: float = 0.0
    missing: str = ""
    error: str = ""


def run_suites(
    names: list[str] | None = None,
    quick: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[SuiteResult]:
    """Run the suites ``names`` (default: all of :data:`SUITES`), in order.

    A missing module or a failing suite gives a :class:`SuiteResult` with ``missing``
    or ``error`` set; the other suites still run.
    """
    names = list(SUITES) if names is None else names
    unknown = [n for n in names if n not in SUITES and n not in PENDING]
    if unknown:
        raise ValueError(
            f"unknown suite(s) {unknown!r}; known: {list(SUITES) + list(PENDING)!r}"
        )
    results = []
    for name in names:
        if name in PENDING:
            module, about = PENDING[name]
            present = (HERE / module).is_file()
            why = (
                f"benchmarks/{module} has no figure function this report calls yet"
                if present
                else f"benchmarks/{module} does not exist yet"
            )
            results.append(SuiteResult(name, module, about, missing=why))
            continue
        module, adapter, about = SUITES[name]
        result = SuiteResult(name, module, about)
        if progress:
            progress(f"{name}: {about}")
        start = time.perf_counter()
        try:
            got = adapter(quick)
            result.figures, result.detail = got if isinstance(got, tuple) else (got, "")
        except ModuleNotFoundError as exc:
            result.missing = f"cannot import what benchmarks/{module} needs: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported, the other suites go on
            lines = traceback.format_exception_only(type(exc), exc)
            result.error = "".join(lines).strip()
        result.seconds = time.perf_counter() - start
        results.append(result)
    return results


def figures_json(results: list[SuiteResult]) -> list[dict]:
    """Every figure as a dict with ``advantage`` and ``met`` filled in."""
    out = []
    for r in results:
        for f in r.figures:
            row = asdict(f)
            row.update(advantage=f.advantage, met=f.met)
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python benchmarks/report.py``: the same as ``tsengine bench``."""
    from tsengine.cli.main import main as tsengine_main

    return tsengine_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
