"""The README's CLI table is the one the parsers generate, flags included."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.cli_reference import END, START, cli_table, replace_block

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_cli_table_matches_the_parsers():
    text = README.read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == cli_table(), "README CLI table is stale: run `python -m benchmark.cli_reference --write README.md`"


def test_every_flag_of_every_command_is_listed():
    from benchmark.cli import build_parser
    from benchmark.cli_reference import _subparsers

    table = cli_table()
    for name, (sub, _) in _subparsers(build_parser()).items():
        nested = _subparsers(sub)  # a command group: each of its subcommands has its own row
        for full_name, parser in [(f"{name} {n}", p) for n, (p, _) in nested.items()] or [(name, sub)]:
            row = next(line for line in table.splitlines() if line.startswith(f"| `benchmark {full_name}"))
            for action in parser._actions:
                if action.option_strings and action.dest != "help":
                    assert max(action.option_strings, key=len) in row, (full_name, action.option_strings)


def test_a_command_group_has_one_row_per_subcommand():
    assert "| `benchmark leaderboard render` |" in cli_table()


def test_replace_block_needs_markers():
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers", "table")
    assert replace_block(f"a{START}old{END}b", "new") == f"a{START}\nnew\n{END}b"
