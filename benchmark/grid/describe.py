"""The text of ``benchmark run --dry-run``: every cell, its dependency and its GPU-hours, and the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.grid.cells import GridPlan

if TYPE_CHECKING:
    from benchmark.runner import SuiteConfig

__all__ = ["plan_text"]


def _axes_text(key) -> str:  # noqa: ANN001 - RunKey
    """`` (fraction 0.1, finetune lora, lora_rank 8, ...)`` for a low-data or fine-tuning cell, else ''."""
    shown = ("fraction", "subset_seed", "finetune", "lora_rank", "lora_alpha", "partial_stages")
    options = dict(key.options)
    parts = [f"{name} {options[name]}" for name in shown if name in options]
    return f" ({', '.join(parts)})" if parts else ""


def plan_text(cfg: SuiteConfig, plan: GridPlan) -> str:
    """One line per cell (state, GPU-hours, dependency), a per-row table and the GPU-hour totals."""
    from benchmark.estimates import format_duration
    from benchmark.grid.cells import suite_datasets
    from benchmark.grid.folds import dataset_folds, fold_notes
    from benchmark.runner import parallel_text, training_seeds, wall_seconds

    unavailable = {str(r): why for r, why in plan.skipped_rows}
    rows = sorted({c.row for c in plan.finetune}, key=lambda r: [c.row for c in plan.finetune].index(r))
    datasets = suite_datasets(cfg)

    def state(cell) -> str:  # noqa: ANN001
        if cell.id in plan.done:
            return "done"
        method = cell.key.pretraining if cell.key is not None else cell.method
        if any(why.startswith(f"pre-training {method!r}") for why in unavailable.values()):
            return "not available in this build"
        return "to run"

    lines = [
        f"dry run: suite {cfg.suite} ({', '.join(datasets)}), profile {cfg.profile}, "
        f"seed(s) {','.join(map(str, training_seeds(cfg)))}, executor {cfg.executor}"
        + (f" {parallel_text(cfg)}" if cfg.gpus else f", {parallel_text(cfg)}" if parallel_text(cfg) else ""),
        "folds: "
        + (
            "official splits (no --folds)"
            if not cfg.folds
            else "; ".join(
                f"{d} "
                + ("official" if dataset_folds(cfg, d) == (None,) else ",".join(map(str, dataset_folds(cfg, d))))
                for d in datasets
            )
        ),
        f"{len(rows)} model row(s), {len(plan.pretrain)} pre-training cell(s), {len(plan.finetune)} fine-tuning "
        f"cell(s)" + (f"; {plan.filtered_out} cell(s) filtered out by --only/--exclude" if plan.filtered_out else ""),
    ]
    lines += [f"  note: {n}" for n in fold_notes(cfg, datasets)]
    for row, why in plan.skipped_rows:
        lines.append(f"  row {row}: {why} (planned, not run)")
    lines.append(f"pre-training cells ({len(plan.pretrain)}):")
    for c in plan.pretrain:
        users = sum(1 for f in plan.finetune if c.id in f.deps)
        lines.append(f"  {c.id}  {plan.gpu_hours[c.id]:.0f} GPU-h  needed by {users} cell(s)  [{state(c)}]")
    lines.append(f"fine-tuning cells ({len(plan.finetune)}):")
    for c in plan.finetune:
        after = f"  after {', '.join(c.deps)}" if c.deps else ""
        lines.append(f"  {c.key}{_axes_text(c.key)}  {plan.gpu_hours[c.id]:.1f} GPU-h{after}  [{state(c)}]")
    lines.append("GPU-hours per row (all datasets, folds and seeds):")
    for row in rows:
        cells = [c for c in plan.finetune if c.row == row]
        hours = sum(plan.gpu_hours[c.id] for c in cells)
        lines.append(f"  {row:<32} {len(cells):>4} cell(s) {hours:>10.1f} GPU-h")
    ft = sum(plan.gpu_hours[c.id] for c in plan.finetune)
    pt = sum(plan.gpu_hours[c.id] for c in plan.pretrain)
    runnable = sum(plan.gpu_hours[c.id] for c in plan.todo if state(c) == "to run")
    lines.append(
        f"estimated GPU-hours: {ft:.0f} fine-tuning + {pt:.0f} pre-training = {ft + pt:.0f} in total; "
        f"{runnable:.0f} to run in this build ({len(plan.done)} cell(s) already done). Step times are "
        "assumptions (benchmark/grid/estimates.py), iteration counts the profile's."
    )
    if cfg.executor == "local":  # the cells this build runs, one at a time, then as many at once as run together
        to_run = [plan.estimates.get(c.id) for c in plan.todo if state(c) == "to run"]
        known = [float(v) for v in to_run if v is not None]
        seconds = float(sum(known)) + plan.twin_seconds if len(known) == len(to_run) else None
        lines.append(
            f"estimated time on this machine ({parallel_text(cfg) or 'one cell at a time'}): "
            f"{format_duration(wall_seconds(cfg, seconds, len(to_run)))} for the {len(to_run)} cell(s) to run "
            "(benchmark/estimates.py)"
        )
    return "\n".join(lines)
