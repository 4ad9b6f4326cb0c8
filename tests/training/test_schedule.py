"""Schedule values at the boundaries: freeze end, warm-up end, last step; the DETR restart."""

import pytest

from benchmark.training.schedule import ScheduleConfig, encoder_frozen, learning_rate

PAPER_RETINA = ScheduleConfig(total_iterations=60 * 2500, target_lr=1e-2)  # 50 + 10 SWA epochs
PAPER_DETR = ScheduleConfig(total_iterations=100 * 2500, target_lr=3e-4)


def test_freeze_lengths_match_the_paper():
    assert PAPER_RETINA.freeze_iterations == 7500  # "7,500 iterations, corresponding to 3 epochs"
    assert PAPER_DETR.freeze_iterations == 12500  # "12,500 iterations, 5 epochs"


def test_boundaries():
    cfg = PAPER_RETINA
    f = cfg.freeze_iterations
    assert learning_rate(0, cfg) == pytest.approx(1e-6)
    assert encoder_frozen(0, cfg) and encoder_frozen(f - 1, cfg) and not encoder_frozen(f, cfg)
    assert learning_rate(4000, cfg) == pytest.approx(1e-2)  # heads reached the target inside the freeze
    assert learning_rate(f - 1, cfg) == pytest.approx(1e-2)
    assert learning_rate(f, cfg) == pytest.approx(1e-6)  # full-network warm-up starts again
    assert learning_rate(f + 2000, cfg) == pytest.approx(1e-6 + (1e-2 - 1e-6) / 2)
    assert learning_rate(f + 4000, cfg) == pytest.approx(1e-2)  # warm-up end = decay start
    last = cfg.total_iterations - 1
    expected_last = 1e-2 * (1 / (cfg.total_iterations - cfg.decay_start)) ** 0.9
    assert learning_rate(last, cfg) == pytest.approx(expected_last)
    assert learning_rate(last, cfg) < learning_rate(last - 1, cfg)
    with pytest.raises(ValueError, match="step must be in"):
        learning_rate(cfg.total_iterations, cfg)


def test_monotone_decay_after_warmup():
    cfg = ScheduleConfig(total_iterations=1000, target_lr=0.1, warmup_iterations=100)
    lrs = [learning_rate(s, cfg) for s in range(cfg.decay_start, 1000)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_short_runs_and_no_freeze():
    cfg = ScheduleConfig(total_iterations=10, target_lr=1.0, warmup_iterations=4000)
    assert cfg.decay_start == 10  # warm-up longer than the run: never decays, never fails
    assert [encoder_frozen(s, cfg) for s in range(10)] == [False] * 10  # 5% of 10 is 0
    assert all(0 < learning_rate(s, cfg) <= 1.0 for s in range(10))


def test_detr_restart():
    r = PAPER_DETR.restarted()
    assert r.freeze_iterations == 0 and not encoder_frozen(0, r)
    assert learning_rate(10_000, r) == pytest.approx(1e-4)
    assert learning_rate(5_000, r) == pytest.approx(1e-6 + (1e-4 - 1e-6) / 2)


def test_invalid_configs():
    with pytest.raises(ValueError, match="freeze_fraction"):
        ScheduleConfig(total_iterations=10, target_lr=1.0, freeze_fraction=1.0)
    with pytest.raises(ValueError, match="total_iterations"):
        ScheduleConfig(total_iterations=0, target_lr=1.0)
