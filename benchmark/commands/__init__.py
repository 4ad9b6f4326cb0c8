"""CLI subcommands: one module each (``NAME``, ``HELP``, ``add_arguments``, ``run``)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence


def add_command_modules(
    sub: argparse._SubParsersAction, module_names: Sequence[str], run_attribute: str
) -> None:
    """Register each command module (``NAME``, ``HELP``, ``add_arguments``, ``run``) as a subparser of ``sub``;
    its ``run`` is stored on the parsed namespace as ``run_attribute``. Shared by ``benchmark`` and command groups
    such as ``benchmark leaderboard``."""
    for module_name in module_names:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        module.add_arguments(p)
        p.set_defaults(**{run_attribute: module.run})
