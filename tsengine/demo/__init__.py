"""``tsengine demo``: the whole system on real and synthetic plant data.

Modules, in the order the run uses them:

- :mod:`~tsengine.demo.replay` -- time-compressed replay of recorded data (the packaged
  NAB and C-MAPSS datasets, user files);
- :mod:`~tsengine.demo.fleet` -- the synthetic high-rate vibration feed;
- :mod:`~tsengine.demo.kpis` -- the KPI rollups and the condition KPIs read from them;
- :mod:`~tsengine.demo.consumer` -- the digital twin in another process, over Flight;
- :mod:`~tsengine.demo.view` -- the live terminal view and its plain fallback;
- :mod:`~tsengine.demo.chart` -- the PNG chart of one asset's KPIs;
- :mod:`~tsengine.demo.summary` -- the closing summary;
- :mod:`~tsengine.demo.run` -- :func:`run_demo`, which ties them together.
"""

from tsengine.demo.run import DemoConfig, run_demo

__all__ = ["DemoConfig", "run_demo"]
