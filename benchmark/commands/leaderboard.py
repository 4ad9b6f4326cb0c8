"""Leaderboards: boards of ranked methods per dataset and protocol (see leaderboards/README.md).

``benchmark leaderboard SUBCOMMAND``: each subcommand is its own module, listed in ``SUBCOMMAND_MODULES``, with
the same ``NAME``/``HELP``/``add_arguments``/``run`` contract as the top-level commands.
"""

from __future__ import annotations

import argparse
import importlib

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
    for module_name in SUBCOMMAND_MODULES:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(_leaderboard_run=module.run)


def run(args: argparse.Namespace) -> int:
    return int(args._leaderboard_run(args) or 0)
