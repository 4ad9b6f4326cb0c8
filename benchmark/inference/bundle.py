"""The predictor file of a run folder: everything ``benchmark predict`` needs besides the weights.

``benchmark train`` writes ``RUN_DIR/predictor.json`` (atomically, :mod:`benchmark.core.atomic`) once the
post-processing has been tuned on validation. It holds, as plain JSON (see docs/predict.md):

* ``plan``: the whole preprocessing :class:`~benchmark.preprocessing.plan.Plan` (target spacing, spline order,
  storage dtype, intensity normalisation and its statistics, modalities, classes);
* ``architecture`` and ``model_config``: the detector's typed config (planned anchors and encoder topology
  included), so the network is rebuilt without the training data;
* ``inference``: the sliding-window settings the run was scored with (patch, overlap, consolidation);
* ``postprocessing``: the parameters tuned on the validation split;
* ``weights``: the weights file (``model_final.pt``) and its SHA-256, checked before it is loaded with
  ``torch.load(weights_only=True)``.

Run folders written before this file existed have no ``predictor.json``; :func:`load_predictor` then says so
and what to do, instead of guessing the missing pieces.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from benchmark.core.atomic import atomic_write_json

PREDICTOR_FILE = "predictor.json"
PREDICTOR_VERSION = 1
WEIGHTS_FILE = "model_final.pt"


class PredictorError(ValueError):
    """A run folder that cannot be used for prediction; the message says why and what to do."""


def _tuples(value: Any) -> Any:
    """JSON lists back to the tuples the frozen configs use (recursively)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def model_config_to_json(config: Any) -> dict:
    """A detector config (``RetinaUNetConfig`` / ``DeformableDETRConfig``) as plain JSON data."""
    return json.loads(json.dumps(asdict(config)))


def model_config_from_json(architecture: str, obj: dict) -> Any:
    """Rebuild the typed config of ``architecture`` from :func:`model_config_to_json` output."""
    from models.config import EncoderConfig
    from models.registry import ARCHITECTURES

    cls = ARCHITECTURES.get(architecture).config
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise PredictorError(f"model_config has unknown field(s) {unknown} for {architecture}")
    kw = {k: _tuples(v) for k, v in obj.items() if k != "encoder"}
    encoder = {k: _tuples(v) for k, v in obj["encoder"].items()}
    return cls(encoder=EncoderConfig(**encoder), **kw)


@dataclass(frozen=True)
class Predictor:
    """Contents of ``predictor.json`` (plain data; :meth:`plan_obj` etc. give the typed objects)."""

    architecture: str
    model_config: dict
    plan: dict
    inference: dict
    postprocessing: dict
    dataset_id: str
    classes: tuple[str, ...]
    modalities: tuple[str, ...]
    weights_file: str = WEIGHTS_FILE
    weights_sha256: str = ""
    profile: str = ""
    run_key: dict | None = None
    predictor_version: int = PREDICTOR_VERSION

    def plan_obj(self):  # noqa: ANN201 - benchmark.preprocessing.plan.Plan
        from benchmark.preprocessing.plan import Plan

        return Plan.from_json(dict(self.plan))

    def inference_config(self, tta: bool | None = None):  # noqa: ANN201 - InferenceConfig
        """The run's sliding-window settings; ``tta`` True/False turns mirroring of all three axes on/off."""
        from benchmark.inference.sliding_window import InferenceConfig

        kw = {k: _tuples(v) for k, v in self.inference.items()}
        if tta is not None:
            kw["mirror_axes"] = (0, 1, 2) if tta else ()
        return InferenceConfig(**kw)

    def postprocessing_params(self):  # noqa: ANN201 - PostprocessingParams
        from benchmark.inference.postprocessing import PostprocessingParams

        return PostprocessingParams(**self.postprocessing)

    def to_json(self) -> dict:
        obj = asdict(self)
        obj["classes"], obj["modalities"] = list(self.classes), list(self.modalities)
        return obj

    @classmethod
    def from_json(cls, obj: Any, source: str = PREDICTOR_FILE) -> Predictor:
        if not isinstance(obj, dict):
            raise PredictorError(f"{source}: expected a JSON object")
        version = obj.get("predictor_version")
        if version != PREDICTOR_VERSION:
            raise PredictorError(
                f"{source}: predictor_version {version!r} is not supported (expected {PREDICTOR_VERSION})"
            )
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(obj) - known), sorted(k for k in ("architecture", "model_config", "plan",
                                                                         "inference", "postprocessing") if k not in obj)
        if unknown or missing:
            raise PredictorError(f"{source}: unknown field(s) {unknown}, missing field(s) {missing}")
        kw = dict(obj)
        kw["classes"] = tuple(obj.get("classes", ()))
        kw["modalities"] = tuple(obj.get("modalities", ()))
        return cls(**kw)


def write_predictor(
    run_dir: str | Path,
    architecture: str,
    model_config: Any,
    plan: Any,
    inference: Any,
    postprocessing: Any,
    dataset_id: str,
    classes: tuple[str, ...] | list[str],
    profile: str = "",
    run_key: dict | None = None,
) -> Path:
    """Write ``RUN_DIR/predictor.json`` for a finished run (its ``model_final.pt`` must exist: it is hashed)."""
    from pretraining.checkpoint import sha256_of

    run_dir = Path(run_dir)
    weights = run_dir / WEIGHTS_FILE
    predictor = Predictor(
        architecture=architecture,
        model_config=model_config_to_json(model_config),
        plan=plan.to_json(),
        inference=json.loads(json.dumps(asdict(inference))),
        postprocessing=asdict(postprocessing),
        dataset_id=dataset_id,
        classes=tuple(classes),
        modalities=tuple(plan.modalities),
        weights_sha256=sha256_of(weights),
        profile=profile,
        run_key=run_key,
    )
    return atomic_write_json(run_dir / PREDICTOR_FILE, predictor.to_json(), indent=2)


def predictor_problem(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot predict (cheap: reads only the JSON), or ``None``."""
    path = run_dir / PREDICTOR_FILE
    if not path.is_file():
        if (run_dir / "train_config.json").is_file():
            return (
                f"{run_dir}: this run folder has no {PREDICTOR_FILE} (it was trained before `benchmark predict` "
                "existed, or training has not finished): train it again with the same `benchmark train` command "
                "and --no-resume, which writes the preprocessing plan, model config and tuned post-processing"
            )
        return f"{run_dir}: not a run folder written by `benchmark train` (no {PREDICTOR_FILE})"
    try:
        predictor = Predictor.from_json(json.loads(path.read_text(encoding="utf-8")), str(path))
        predictor.plan_obj()
        predictor.inference_config()
        predictor.postprocessing_params()
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return f"{path}: not valid JSON ({err})"
    except (ValueError, TypeError, KeyError) as err:
        return f"{path}: {err}"
    if not (run_dir / predictor.weights_file).is_file():
        return f"{run_dir}: the weights file {predictor.weights_file} is missing"
    return None


def load_predictor(run_dir: str | Path) -> Predictor:
    """Read and check ``RUN_DIR/predictor.json``; :class:`PredictorError` with the reason otherwise."""
    run_dir = Path(run_dir)
    problem = predictor_problem(run_dir)
    if problem:
        raise PredictorError(problem)
    return Predictor.from_json(json.loads((run_dir / PREDICTOR_FILE).read_text(encoding="utf-8")))


def load_model(run_dir: str | Path, predictor: Predictor, device: str = "cpu"):  # noqa: ANN201 - Detector
    """The trained detector: config from ``predictor``, weights read with ``weights_only=True`` after the hash check."""
    from benchmark.training.checkpoint import read_checkpoint
    from models.registry import build_detector
    from pretraining.checkpoint import sha256_of

    path = Path(run_dir) / predictor.weights_file
    if predictor.weights_sha256 and sha256_of(path) != predictor.weights_sha256:
        raise PredictorError(
            f"{path}: the weights do not match {PREDICTOR_FILE} (SHA-256 differs); the file was replaced after training"
        )
    payload = read_checkpoint(path, map_location="cpu")
    config = model_config_from_json(predictor.architecture, predictor.model_config)
    model = build_detector(predictor.architecture, config)
    model.load_state_dict(payload["model"])
    return model.to(device).eval()
