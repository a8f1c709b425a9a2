"""Entry point of the ``tsengine`` command: dispatches to one module per sub-command.

To add a sub-command, write ``tsengine/cli/NAME.py`` with a module docstring (shown
as its ``--help`` description), ``HELP`` (one line for the command list),
``add_arguments(parser)`` and ``run(args) -> int``, and list it in :data:`COMMANDS`.
Command modules import heavy dependencies inside ``run`` so ``tsengine --help`` stays
fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: Sub-command name -> module implementing it.
COMMANDS: dict[str, str] = {
    "serve": "tsengine.cli.serve",
    "demo": "tsengine.cli.demo",
    "ingest": "tsengine.cli.ingest",
    "query": "tsengine.cli.query",
    "bench": "tsengine.cli.bench",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="tsengine",
        description="Time-series ingestion engine for industrial sensor data.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default: INFO)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = commands.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tsengine`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status: 0 success, 2 a usage or input error, 130 interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from tsengine.errors import Error

    try:
        return int(args.run(args) or 0)
    except Error as exc:
        print(f"tsengine {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A path that is a file, a directory that is missing, no permission: the
        # message names the path, which is all the user needs, not a traceback.
        print(f"tsengine {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
