"""challengeR-style figures render headless; statistics.html is static and opens in headless chromium cleanly."""

from __future__ import annotations

import re

import pytest
from browser import browser_unavailable, chromium_page

from analysis import challenge_figures as cf
from analysis.bootstrap import bootstrap_store
from analysis.challenge import challenge_statistics
from analysis.challenge_report import statistics_html, write_statistics_html
from analysis.store import open_store


@pytest.fixture(scope="module")
def stats(tiny_store):
    """Two datasets, one metric, 25 replicates: enough for every figure, quick to render."""
    boot = bootstrap_store(open_store(tiny_store), n_replicates=25, seed=0, metrics=("map@0.1",))
    keep = boot.full["dataset"].isin(["S01", "S03"])
    full, rep = boot.full[keep], boot.replicates[boot.replicates["dataset"].isin(["S01", "S03"])]
    return challenge_statistics(full, rep), rep


def test_figures_render(stats, tmp_path):
    result, rep = stats
    sig = cf.significance_map_figure(result.tests, result.rankings, "S01", "map@0.1")
    labels = [t.get_text() for t in sig.axes[0].get_yticklabels()]
    assert len(labels) == 4 and "RetUNet · MAE" in labels
    podium = cf.podium_figure(rep, result.rankings, "S03", "map@0.1", max_lines=10)
    assert len(podium.axes) == 2 and len(podium.axes[0].lines) == 10  # one line per shown replicate
    heat = cf.ranking_heatmap_figure(rep, result.rankings, "all", "map@0.1")
    assert heat.axes[0].images[0].get_array().sum() == 25 * 4  # every replicate puts every model at one rank
    violin = cf.robustness_violin_figure(result.robustness, "map@0.1")
    assert [t.get_text() for t in violin.axes[0].get_xticklabels()] == ["S01", "S03", "all"]
    violin.savefig(tmp_path / "v.png")
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"


def test_html_is_static_and_complete(stats, tmp_path):
    result, rep = stats
    page = statistics_html(result, rep, title="t", description="two twins")
    assert "<script" not in page and "http://" not in page and "https://" not in page  # no server, no CDN
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    # per dataset: significance map, ranking heatmap, podium; aggregated: violin and consensus heatmap
    assert len(images) == 2 * 3 + 2 and "significance map S03 map@0.1" in images
    for anchor in ("map@0.1-all", "map@0.1-S01", "map@0.1-S03"):
        assert f'id="{anchor}"' in page
    assert "Holm" in page and "Wiesenfarth" in page
    path = write_statistics_html(tmp_path / "statistics.html", result, rep)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_html_opens_in_headless_chromium_without_console_errors(stats, tmp_path):
    reason = browser_unavailable()
    if reason:
        pytest.skip(reason)
    result, rep = stats
    path = write_statistics_html(tmp_path / "statistics.html", result, rep)
    with chromium_page(tmp_path) as page:
        problems = page.problems  # console errors, page errors, failed requests (tests/browser.py), and warnings:
        page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type == "warning" else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        n_images = page.evaluate("document.images.length")
        loaded = page.evaluate("Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        title = page.title()
    assert problems == []
    assert n_images == 8 and loaded == n_images
    assert title == "Statistics"
