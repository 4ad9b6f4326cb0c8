"""``benchmark leaderboard render``: argument checks before any work, the site written from a boards folder."""

from __future__ import annotations

import json

from benchmark.cli import main


def test_render_command_writes_the_site(render_boards_root, tmp_path, capsys):
    out = tmp_path / "site"
    assert main(["leaderboard", "render", "--boards", str(render_boards_root), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "rendered 2 boards with 5 entries" in said and str(out / "index.html") in said
    assert (out / "s06-map.md").is_file() and (out / "s06-map.html").is_file() and (out / "s06-map-ranks.svg").is_file()
    listed = json.loads((out / ".leaderboard-site.json").read_text(encoding="utf-8"))["files"]
    assert "s06-map/zeta-baseline.html" in listed
    assert main(["leaderboard", "render", "--boards", str(render_boards_root), "--out", str(out)]) == 0  # re-render


def test_render_command_reports_every_argument_problem_at_once(tmp_path, capsys):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "mine.txt").write_text("x")
    code = main(["leaderboard", "render", "--boards", str(tmp_path / "nowhere"), "--out", str(busy)])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 2
    assert "--boards" in err[0] and "not found" in err[0]
    assert "not empty" in err[1] and "Traceback" not in "".join(err)
    assert sorted(p.name for p in busy.iterdir()) == ["mine.txt"]


def test_a_broken_entry_is_one_error_line_and_nothing_is_written(render_boards_root, tmp_path, capsys):
    (render_boards_root / "s06-map" / "entries" / "zeta-baseline.json").write_text("{not json")
    out = tmp_path / "site"
    assert main(["leaderboard", "render", "--boards", str(render_boards_root), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "zeta-baseline.json" in err
    assert not out.exists()
