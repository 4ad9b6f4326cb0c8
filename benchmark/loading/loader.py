"""The training loader: batches built in worker processes, deterministic for a seed, resumable by position.

Each batch is :func:`~benchmark.loading.sampling.make_batch` of ``(seed, epoch, batch index)``; a torch
DataLoader only decides *where* batches are built (``num_workers`` processes, in order), never *what* they
contain. :class:`LoaderPosition` (epoch, next batch) is advanced as batches are handed out, so saving
``state_dict()`` with a training checkpoint and ``load_state_dict`` on restart resumes with the exact next batch.

With ``num_workers=0`` and ``prefetch_thread=True`` (what the trainer uses for the one-process ``cpu``
profile) batches are built one ahead in a background thread of this process, so the patch sampling and
augmentation of batch ``k + 1`` overlap the training step on batch ``k`` (on a second core; numpy, scipy and
torch release the GIL in their kernels). The batches are the same: each is still a pure function of
``(seed, epoch, index)``, and nothing in batch building touches a global RNG.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from benchmark.loading.data import PreprocessedData
from benchmark.loading.sampling import LoaderConfig, make_batch


@dataclass(frozen=True)
class LoaderPosition:
    """Where the loader stands: the epoch and the index of the next batch to hand out."""

    epoch: int = 0
    batch: int = 0


class _BatchDataset(Dataset):
    """Map-style dataset whose items are whole batches, keyed by ``(epoch, batch index)``."""

    def __init__(self, data: PreprocessedData, case_ids: Sequence[str], config: LoaderConfig, seed: int) -> None:
        self.data, self.case_ids, self.config, self.seed = data, list(case_ids), config, seed

    def __len__(self) -> int:
        return self.config.batches_per_epoch

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        return make_batch(self.data, self.case_ids, self.config, self.seed, epoch, index)


def _init_worker(seed: int, worker_id: int) -> None:
    """One intra-op thread per worker (the workers are the parallelism); global RNGs seeded from ``seed``.

    Batches never use the global RNGs, this only keeps third-party code that might reproducible too.
    """
    torch.set_num_threads(1)
    state = np.random.SeedSequence([int(seed), int(worker_id)]).generate_state(2)
    np.random.seed(int(state[0]))
    random.seed(int(state[1]))
    torch.manual_seed(int(state[0]))


class PatchLoader:
    """Iterate over the remaining batches of the current epoch; resumable via ``state_dict``.

    ``for epoch in range(loader.position.epoch, epochs): for batch in loader: ...`` trains epoch by epoch.
    """

    def __init__(
        self,
        data: PreprocessedData | str | Path,
        case_ids: Sequence[str],
        config: LoaderConfig | None = None,
        seed: int = 0,
        num_workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int = 2,
        prefetch_thread: bool = False,
    ) -> None:
        if num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {num_workers}")
        self.data = data if isinstance(data, PreprocessedData) else PreprocessedData(data)
        self.case_ids = list(case_ids)
        if not self.case_ids:
            raise ValueError("PatchLoader needs at least one case id")
        missing = sorted(set(self.case_ids) - set(self.data.case_ids()))
        if missing:
            raise ValueError(f"case(s) not preprocessed in {self.data.root}: {missing[:5]}")
        self.config = config or LoaderConfig()
        self.seed = int(seed)
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.prefetch_factor = prefetch_factor
        #: with ``num_workers=0``: build the next batch in a background thread while the caller uses this one
        self.prefetch_thread = bool(prefetch_thread)
        self._position = LoaderPosition()

    def __len__(self) -> int:
        return self.config.batches_per_epoch

    @property
    def position(self) -> LoaderPosition:
        return self._position

    def state_dict(self) -> dict:
        """The position (and the seed and batch count it is only valid with)."""
        return {
            "seed": self.seed,
            "epoch": self._position.epoch,
            "batch": self._position.batch,
            "batches_per_epoch": self.config.batches_per_epoch,
        }

    def load_state_dict(self, state: dict) -> None:
        """Resume from a saved :meth:`state_dict`; the seed and batches per epoch must match."""
        if int(state["seed"]) != self.seed or int(state["batches_per_epoch"]) != self.config.batches_per_epoch:
            raise ValueError(
                f"loader state is for seed {state['seed']} with {state['batches_per_epoch']} batches per epoch, "
                f"this loader has seed {self.seed} with {self.config.batches_per_epoch}"
            )
        epoch, batch = int(state["epoch"]), int(state["batch"])
        if epoch < 0 or not 0 <= batch < self.config.batches_per_epoch:
            raise ValueError(f"invalid loader position epoch={epoch} batch={batch}")
        self._position = LoaderPosition(epoch, batch)

    def batch(self, epoch: int, index: int) -> dict:
        """Batch ``index`` of ``epoch``, built in this process (does not move the position)."""
        return make_batch(self.data, self.case_ids, self.config, self.seed, epoch, index)

    def __iter__(self) -> Iterator[dict]:
        # Decompressed cases (within the data's memory budget) are read without decompression; made here, in the
        # main process, forked workers share them instead of each decompressing its own copy every epoch.
        self.data.preload(self.case_ids)
        epoch, start = self._position.epoch, self._position.batch
        keys = [(epoch, b) for b in range(start, self.config.batches_per_epoch)]
        if self.num_workers == 0 and self.prefetch_thread:
            yield from self._iter_threaded(keys)
            return
        extra = {"prefetch_factor": self.prefetch_factor} if self.num_workers > 0 else {}
        loader = DataLoader(
            _BatchDataset(self.data, self.case_ids, self.config, self.seed),
            batch_size=None,
            sampler=keys,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            worker_init_fn=partial(_init_worker, self.seed),
            generator=torch.Generator().manual_seed(self.seed),
            **extra,
        )
        for (e, b), batch in zip(keys, loader, strict=True):
            last = b + 1 == self.config.batches_per_epoch
            self._position = LoaderPosition(e + 1, 0) if last else LoaderPosition(e, b + 1)
            yield batch

    def _iter_threaded(self, keys: list[tuple[int, int]]) -> Iterator[dict]:
        """The batches of ``keys`` in order, each built one step ahead by a background thread."""
        ready: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()

        def produce() -> None:
            for e, b in keys:
                try:
                    item: object = (e, b, self.batch(e, b))
                except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
                    item = error
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set() or isinstance(item, BaseException):
                    return

        worker = threading.Thread(target=produce, name="PatchLoader-prefetch", daemon=True)
        worker.start()
        try:
            for _ in keys:
                item = ready.get()
                if isinstance(item, BaseException):
                    raise item
                e, b, batch = item
                last = b + 1 == self.config.batches_per_epoch
                self._position = LoaderPosition(e + 1, 0) if last else LoaderPosition(e, b + 1)
                yield batch
        finally:  # also when the caller stops early (break, exception): the thread ends after its current batch
            stop.set()
            worker.join()
