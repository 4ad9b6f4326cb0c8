"""Every subcommand has --help, and README's CLI reference lists exactly the implemented subcommands."""

import re
from pathlib import Path

import pytest

from benchmark.cli import build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"


def _subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


@pytest.mark.parametrize("name", _subcommands())
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert f"usage: benchmark {name}" in capsys.readouterr().out


def test_readme_cli_reference_matches_the_parser():
    documented = set(re.findall(r"^\| `benchmark ([a-z-]+)", README.read_text(), flags=re.MULTILINE))
    assert documented == set(_subcommands())


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["trian"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
