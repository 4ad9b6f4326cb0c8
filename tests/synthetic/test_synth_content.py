"""Labels, geometry and intensities of the written tiny twins."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.conventions import boxes_from_instances
from benchmark.data.format import PreparedDataset
from benchmark.synthetic.config import SCALES, nominal_geometry
from benchmark.synthetic.generate import generate_case, plan_twin
from benchmark.synthetic.twins import TWINS, get_twin


def _cases(root):  # noqa: ANN001, ANN202
    ds = PreparedDataset(root)
    return ds, [ds.load_case(cid) for cid in ds.case_ids()]


def test_instances_have_voxels_classes_in_range_and_lie_inside(tiny_twin_roots) -> None:
    for twin_id, root in tiny_twin_roots.items():
        ds, cases = _cases(root)
        n_objects = 0
        for case in cases:
            boxes = boxes_from_instances(case.instances)
            assert sorted(boxes) == sorted(case.classes) == list(range(1, len(case.classes) + 1)), case.case_id
            assert all(0 <= c < len(ds.meta.classes) for c in case.classes.values())
            shape = np.array(case.instances.shape)
            for box in boxes.values():
                assert np.all(box[:3] >= 1) and np.all(box[3:] <= shape - 1), (case.case_id, box)
            n_objects += len(case.classes)
        assert n_objects > 0, twin_id


def test_box_only_twin_stores_box_shaped_instances(tiny_twin_roots) -> None:
    ds, cases = _cases(tiny_twin_roots["S05"])
    assert ds.meta.annotation == "boxes"
    for case in cases:
        for inst, box in boxes_from_instances(case.instances).items():
            z1, y1, x1, z2, y2, x2 = box.astype(int)
            assert np.all(case.instances[z1:z2, y1:y2, x1:x2] == inst)


def test_dataset_json_mirrors_the_real_dataset(tiny_twin_roots) -> None:
    for twin_id, root in tiny_twin_roots.items():
        meta, spec = PreparedDataset(root).meta, get_twin(twin_id).spec
        assert meta.dataset_id == twin_id and meta.name == f"{twin_id} {spec.name} (synthetic twin)"
        assert meta.modalities == list(spec.channels) and meta.classes == list(spec.classes)
        assert meta.annotation == spec.annotation
        prov = meta.provenance
        assert prov["mirrors"] == spec.id and prov["seed"] == 0 and prov["scale"] == "tiny"
        assert prov["generator_version"] and "knobs" in prov


@pytest.mark.parametrize("scale", ["tiny", "small", "full"])
def test_spacing_ratios_match_the_real_median_spacing(scale: str) -> None:
    for twin in (TWINS.get(t) for t in TWINS.names()):
        spacing = np.array(nominal_geometry(twin, SCALES[scale]).spacing)
        real = np.array(twin.spec.median_spacing)
        assert np.allclose(spacing / spacing[2], real / real[2], rtol=1e-5)
        if scale == "full":
            assert np.allclose(spacing, real)


def test_written_geometry_spacing_origin_and_direction(tiny_twin_roots) -> None:
    directions = set()
    for twin_id, root in tiny_twin_roots.items():
        ds = PreparedDataset(root)
        g = ds.load_geometry(ds.case_ids()[0])
        real = np.array(get_twin(twin_id).spec.median_spacing)
        assert np.allclose(np.array(g.spacing) / g.spacing[2], real / real[2], rtol=1e-4)
        assert not np.allclose(g.origin_xyz, 0.0)
        assert all(16 <= n <= 48 for n in g.shape), g.shape
        directions.add(g.direction)
    assert len(directions) >= 3  # identity, a flipped (S03) and an oblique (S08) direction


def test_ct_intensities_are_hounsfield_like(tiny_twin_roots) -> None:
    for twin_id in ("S01", "S03", "S06", "S08"):
        _, cases = _cases(tiny_twin_roots[twin_id])
        img = cases[0].image[0]
        assert img.min() >= -1024 and img.max() <= 3071
        assert np.median(img[img < -900]) < -950  # air outside the body
        body = img[(img > -200) & (img < 200)]
        assert body.size > 0.1 * img.size and -100 < np.median(body) < 120  # soft tissue
        assert (img > 500).sum() > 0  # bone


def test_mri_twin_has_four_positive_channels_with_enhancing_tumour(tiny_twin_roots) -> None:
    ds, cases = _cases(tiny_twin_roots["S05"])
    assert ds.meta.num_channels == 4
    for case in cases:
        assert case.image.shape[0] == 4 and case.image.min() >= 0
        tumour = case.instances > 0
        pre, post = case.image[0][tumour].mean(), case.image[1][tumour].mean()
        assert post > 1.5 * pre  # enhancement after contrast


def test_small_s06_nodules_are_clearly_visible() -> None:
    """Learnability of S06 at small scale: nodules stand out from the lung by far more than the noise."""
    twin = get_twin("S06")
    plan = next(p for p in plan_twin(twin, "small", 0) if p.classes)
    case = generate_case(twin, "small", 0, plan)
    img, inst = case.image[0], case.instances
    nodule = np.median(img[inst > 0])
    lung = np.median(img[(img > -950) & (img < -700)])
    assert nodule - lung > 20 * twin.knobs.noise_sigma
    sizes = [np.max(b[3:] - b[:3]) for b in boxes_from_instances(inst).values()]
    assert min(sizes) >= 3  # at least 3 voxels across


def test_objects_do_not_overlap_and_external_test_is_shifted() -> None:
    twin = get_twin("S08")
    plans = plan_twin(twin, "small", 0)
    ext = next(p for p in plans if p.split == "external_test" and p.classes)
    case = generate_case(twin, "small", 0, ext)
    assert set(np.unique(case.instances)) == {0, *case.classes}
    internal = generate_case(twin, "small", 0, type(ext)(ext.case_id, "test", ext.index, ext.classes))
    assert np.array_equal(internal.instances, case.instances)
    assert not np.array_equal(internal.image, case.image)  # same anatomy, other scanner
