"""The study grid: cells (one fine-tuning or pre-training run each), their locks, executors and live status.

``benchmark run`` plans the grid (:mod:`benchmark.grid.cells`: the paper's model rows x datasets x seeds, plus
one pre-training cell per (method, encoder)), then hands the cells to an executor
(:mod:`benchmark.grid.executors`: in-process, one subprocess per local GPU, or SLURM through submitit). Every
executor runs the same :func:`benchmark.grid.execute.run_cell_job`, which claims the cell with a lock
(:mod:`benchmark.grid.locks`), runs it, writes the store entry or a failure record, and releases the claim, so
any number of runners and cluster jobs can work on one store. ``benchmark status STORE``
(:mod:`benchmark.grid.status`) reads the same records. docs/grid.md describes the layout.
"""
