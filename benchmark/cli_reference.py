"""The README's CLI table, generated from the argument parsers so it can never drift from them.

``python -m benchmark.cli_reference`` prints the table; ``python -m benchmark.cli_reference --write README.md``
replaces the block between the ``<!-- cli-table:start -->`` and ``<!-- cli-table:end -->`` markers. A test
compares the README with this output, flags included.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

START = "<!-- cli-table:start -->"
END = "<!-- cli-table:end -->"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public accessor
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {a.dest: a.help or "" for a in action._choices_actions}  # noqa: SLF001
            return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}
    return {}


def _usage(name: str, sub: argparse.ArgumentParser) -> tuple[str, list[str]]:
    """``benchmark NAME POSITIONAL --required X`` and the list of optional flags (``--flag``)."""
    parts = [f"benchmark {name}"]
    optional: list[str] = []
    for action in sub._actions:  # noqa: SLF001
        if isinstance(action, argparse._HelpAction):  # noqa: SLF001
            continue
        if not action.option_strings:
            meta = action.metavar or action.dest.upper()
            parts.append(f"{meta} [{meta} ...]" if action.nargs in ("+", "*") else str(meta))
            continue
        flag = max(action.option_strings, key=len)
        if action.required:
            parts.append(f"{flag} {action.metavar or action.dest.upper()}")
        else:
            optional.append(flag)
    return " ".join(parts), optional


def cli_table() -> str:
    """The markdown table: one row per subcommand (per nested subcommand of a command group) with its usage, its
    help and every optional flag."""
    from benchmark.cli import build_parser

    rows = ["| command | what it does | options |", "| --- | --- | --- |"]
    for name, (sub, help_text) in _subparsers(build_parser()).items():
        nested = _subparsers(sub)  # a command group (benchmark leaderboard render): one row per subcommand
        for full_name, parser, text in (
            [(f"{name} {n}", p, h) for n, (p, h) in nested.items()] if nested else [(name, sub, help_text)]
        ):
            usage, optional = _usage(full_name, parser)
            flags = ", ".join(f"`{f}`" for f in optional) or "-"
            rows.append(f"| `{usage}` | {text} | {flags} |")
    return "\n".join(rows)


def replace_block(text: str, table: str) -> str:
    """``text`` with the block between the markers replaced by ``table``; ValueError without markers."""
    if START not in text or END not in text:
        raise ValueError(f"the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="README", help="replace the table block in this file")
    args = parser.parse_args(argv)
    table = cli_table()
    if args.write:
        path = Path(args.write)
        path.write_text(replace_block(path.read_text(), table))
    else:
        sys.stdout.write(table + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
