"""Public sensor datasets shipped inside the package (see ``ATTRIBUTION.md`` here).

- :data:`NAB_MACHINE_TEMPERATURE`: the NAB machine temperature series (MIT, Numenta);
- :data:`CMAPSS_FD001`: the NASA C-MAPSS FD001 training fleet (US Government work).

:func:`path` gives the file on disk, whether tsengine runs from a source tree or from
an installed wheel.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: NAB ``realKnownCause/machine_temperature_system_failure.csv`` (22,695 rows).
NAB_MACHINE_TEMPERATURE = "machine_temperature_system_failure.csv"
#: C-MAPSS ``train_FD001.txt`` gzipped (20,631 rows, 100 engines).
CMAPSS_FD001 = "train_FD001.txt.gz"

DATASETS = (NAB_MACHINE_TEMPERATURE, CMAPSS_FD001)


def path(name: str) -> Path:
    """Location of the packaged dataset ``name`` (one of :data:`DATASETS`).

    Raises
    ------
    ValueError
        ``name`` is not a packaged dataset.
    FileNotFoundError
        The package was installed without its data files.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; packaged: {list(DATASETS)!r}")
    found = Path(str(resources.files(__name__).joinpath(name)))
    if not found.is_file():
        raise FileNotFoundError(
            f"packaged dataset {name!r} is missing at {str(found)!r}; reinstall "
            "tsengine with its package data"
        )
    return found


__all__ = ["CMAPSS_FD001", "DATASETS", "NAB_MACHINE_TEMPERATURE", "path"]
