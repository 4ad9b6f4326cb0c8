"""A valid submission on the tiny S06 twin appears on the rendered boards with its interval and rank."""

from __future__ import annotations

import re

from lb_submissions import write_json

from benchmark.cli import main
from leaderboards.render.text import fmt_interval, fmt_rank, fmt_value
from leaderboards.store import load_board


def test_a_submission_is_on_the_rendered_board_with_interval_and_rank(twin, boards, good_predictions, tmp_path,
                                                                     capsys):
    path = write_json(tmp_path / "p.json", good_predictions)
    assert main(["submit", "--dataset", str(twin), "--predictions", path, "--method", "My <Net>", "--boards",
                 str(boards), "--replicates", "20"]) == 0, capsys.readouterr().err
    out = tmp_path / "site"
    assert main(["leaderboard", "render", "--boards", str(boards), "--out", str(out)]) == 0
    for board_id in ("s06-map", "s06-froc"):
        entry = load_board(boards, board_id).entry("my-net")
        assert entry.rank is not None and entry.ci_low is not None
        html = (out / f"{board_id}.html").read_text(encoding="utf-8")
        row = re.search(r'<tr data-slug="my-net">.*?</tr>', html).group(0)
        assert ">My &lt;Net&gt;</a>" in row and "badge evaluated" in row
        shown = (fmt_value(entry.value), fmt_interval(entry.ci_low, entry.ci_high), fmt_rank(entry.rank.model_dump()))
        for text in shown:
            assert text in row, (board_id, text, row)
        md_lines = (out / f"{board_id}.md").read_text(encoding="utf-8").splitlines()
        md_row = next(line for line in md_lines if "My &lt;Net&gt;" in line)
        assert fmt_interval(entry.ci_low, entry.ci_high) in md_row and fmt_rank(entry.rank.model_dump()) in md_row
        page = (out / board_id / "my-net.html").read_text(encoding="utf-8")
        assert page.count("<td>S06_") == len(entry.per_case)  # its per-case results
        assert (out / f"{board_id}-ranks.svg").is_file()
