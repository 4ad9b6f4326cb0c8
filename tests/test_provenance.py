import json
from dataclasses import dataclass

import numpy as np
from builders import write_tiny_dataset

from benchmark import __version__
from benchmark.provenance import collect_provenance, cpu_model, dataset_provenance, environment, git_revision


@dataclass
class _Cfg:
    lr: float
    steps: int


def test_provenance_record_is_json_and_complete(tmp_path):
    root = write_tiny_dataset(tmp_path / "ds")
    record = collect_provenance(_Cfg(0.01, np.int64(3)), seed=7, dataset=dataset_provenance(root), protocol="map@0.1")
    text = json.dumps(record)  # JSON-ready
    assert json.loads(text)["config"] == {"lr": 0.01, "steps": 3}
    assert record["seed"] == 7 and record["detbench_version"] == __version__
    assert record["dataset"]["dataset_id"] == "T01" and record["dataset"]["splits_version"] == "1"
    assert record["protocol"] == "map@0.1"
    assert "torch" in record["environment"] and "numpy" in record["environment"]


def test_environment_names_the_hardware_that_decides_the_rounding():
    import torch

    env = environment()
    assert env["cpu"] and env["cpu"] == cpu_model()
    assert int(env["cpu_count"]) >= 1
    assert env["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert int(env["torch_threads"]) == torch.get_num_threads()
    assert ("gpu" in env) == torch.cuda.is_available()


def test_git_revision_outside_a_repo(tmp_path):
    assert git_revision(tmp_path) == "unknown"
