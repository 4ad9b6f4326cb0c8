"""Leaderboards: boards of ranked methods per dataset and protocol (see leaderboards/README.md).

``benchmark leaderboard SUBCOMMAND``: each subcommand is its own module, listed in ``SUBCOMMAND_MODULES``, with
the same ``NAME``/``HELP``/``add_arguments``/``run`` contract as the top-level commands.
"""

from __future__ import annotations

import argparse

from benchmark.commands import add_command_modules

NAME = "leaderboard"
HELP = "leaderboard boards: create them, add the study's runs, render the markdown pages and the static HTML site"

SUBCOMMAND_MODULES = (
    "benchmark.commands.leaderboard_init",
    "benchmark.commands.leaderboard_add_store",
    "benchmark.commands.leaderboard_render",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="leaderboard_command", metavar="SUBCOMMAND")
    sub.required = True
    add_command_modules(sub, SUBCOMMAND_MODULES, "_leaderboard_run")


def add_boards_argument(parser: argparse.ArgumentParser) -> None:
    """``--boards``, the boards folder every leaderboard command reads or writes (relative to the current folder)."""
    parser.add_argument(
        "--boards", default="leaderboards/boards", help="boards folder (default: leaderboards/boards)"
    )


def run(args: argparse.Namespace) -> int:
    return int(args._leaderboard_run(args) or 0)
