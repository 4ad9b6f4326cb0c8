"""The ``benchmark`` command line: a thin layer that parses arguments and calls one API function each.

Every subcommand lives in ``benchmark/commands/<name>.py`` and defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports happen inside ``run``.
Every ``run`` first checks all its arguments, inputs and output locations (:mod:`benchmark.commands.checks`)
before any heavy work. Errors a user can fix (``ValueError``, ``FileNotFoundError``, other ``OSError``) print
one ``error: ...`` line per problem and exit 1, no traceback; argparse's own usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmark import __version__
from benchmark.commands import add_command_modules
from benchmark.commands.checks import InputErrors

# Only implemented subcommands are listed here, in the order ``--help`` shows them.
COMMAND_MODULES = (
    "benchmark.commands.datasets",
    "benchmark.commands.convert",
    "benchmark.commands.synth",
    "benchmark.commands.validate_dataset",
    "benchmark.commands.evaluate",
    "benchmark.commands.preprocess",
    "benchmark.commands.train",
    "benchmark.commands.baseline",
    "benchmark.commands.predict",
    "benchmark.commands.pretrain",
    "benchmark.commands.import_weights",
    "benchmark.commands.run",
    "benchmark.commands.status",
    "benchmark.commands.analyze",
    "benchmark.commands.leaderboard",
    "benchmark.commands.submit",
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
    add_command_modules(sub, COMMAND_MODULES, "_run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InputErrors as err:
        for problem in err.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except (UserError, ValueError, FileNotFoundError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a location the up-front checks could not foresee (disk full, permissions changed)
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
