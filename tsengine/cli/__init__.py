"""The ``tsengine`` command line: one module per sub-command (see :mod:`.main`)."""
