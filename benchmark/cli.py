"""The ``benchmark`` command line: a thin layer that parses arguments and calls one API function each.

Every subcommand lives in ``benchmark/commands/<name>.py`` and defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports happen inside ``run``.
Errors a user can fix (``ValueError``, ``FileNotFoundError``) print one line and exit 1, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from benchmark import __version__

# Only implemented subcommands are listed here, in the order ``--help`` shows them.
COMMAND_MODULES = (
    "benchmark.commands.datasets",
    "benchmark.commands.convert",
    "benchmark.commands.synth",
    "benchmark.commands.validate_dataset",
    "benchmark.commands.evaluate",
    "benchmark.commands.preprocess",
    "benchmark.commands.train",
    "benchmark.commands.import_weights",
    "benchmark.commands.run",
    "benchmark.commands.analyze",
)


class UserError(Exception):
    """An error whose message is the whole story: printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmark",
        description="detbench: does large-scale pre-training help 3D medical object detection?",
    )
    parser.add_argument("--version", action="version", version=f"detbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
