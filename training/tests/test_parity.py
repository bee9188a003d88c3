"""Checks of the parity fixture generator (bgpsentry_train.parity)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import lightgbm as lgb
import pytest

from bgpsentry_train import parity

FILES = [
    parity.MODEL_TXT,
    parity.MODEL_JSON,
    parity.PREDICTIONS_CSV,
    parity.CONTRIBUTIONS_CSV,
    parity.BINARY_MODEL_TXT,
    parity.BINARY_PREDICTIONS_CSV,
    parity.LINEAR_MODEL_TXT,
    parity.LINEAR_PREDICTIONS_CSV,
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("parity")
    return out, parity.generate(out)


def header_value(model_text: str, key: str) -> str:
    for line in model_text.splitlines():
        if line.startswith(key + "="):
            return line[len(key) + 1 :]
    raise AssertionError(f"model text has no {key}= line")


def test_files_and_sizes(generated):
    out, summary = generated
    for name in FILES:
        assert (out / name).is_file(), name
    assert summary["total_bytes"] < 2 * 1024 * 1024
    assert summary["lightgbm_version"] == lgb.__version__


def test_model_shape(generated):
    out, summary = generated
    text = (out / parity.MODEL_TXT).read_text()
    assert text.startswith("tree\nversion=v4\n")
    assert header_value(text, "num_class") == "5"
    assert header_value(text, "objective") == "multiclass num_class:5"
    assert header_value(text, "feature_names").split(" ") == parity.feature_names(30)
    trees = len(header_value(text, "tree_sizes").split(" "))
    assert trees == summary["trees"] >= 100
    assert "num_leaves=31\n" in text
    assert "is_linear=1" not in text
    # Missing values reach the model: some splits send NaN one way (missing type NaN).
    lines = [line for line in text.splitlines() if line.startswith("decision_type=")]
    decisions = {int(d) for line in lines for d in line[len("decision_type=") :].split()}
    assert decisions & {8, 10}


def test_meta(generated):
    out, _ = generated
    meta = json.loads((out / parity.MODEL_JSON).read_text())
    model_bytes = (out / parity.MODEL_TXT).read_bytes()
    assert meta["feature_names"] == parity.feature_names(30)
    assert meta["schema_version"] == parity.FIXTURE_SCHEMA_VERSION
    assert meta["class_names"] == list(parity.CLASS_NAMES)
    assert set(meta["thresholds"]) <= set(meta["class_names"])
    assert meta["lightgbm_version"] == lgb.__version__
    assert meta["data_fingerprint"].startswith("sha256:")
    assert meta["model_sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert 0 < meta["metrics"]["valid_multi_logloss"] < 1.6  # better than chance, ln 5
    assert set(meta) >= {"feature_names", "schema_version", "class_names", "thresholds", "metrics"}


def read_csv(path: Path) -> tuple[list[str], list[list[float]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], [[float(v) for v in row] for row in rows[1:]]


def test_predictions_csv(generated):
    out, summary = generated
    header, rows = read_csv(out / parity.PREDICTIONS_CSV)
    classes = list(parity.CLASS_NAMES)
    assert header == parity.feature_names(30) + [f"raw_{c}" for c in classes] + [f"prob_{c}" for c in classes]
    assert len(rows) == summary["eval_rows"] >= 1000
    assert all(len(r) == 40 for r in rows)
    assert any(v != v for r in rows for v in r[:30])  # NaN features present
    for r in rows:
        assert abs(sum(r[35:]) - 1.0) < 1e-12
    # Written with full precision: the file reproduces Python's float64 exactly.
    booster = lgb.Booster(model_file=str(out / parity.MODEL_TXT))
    raw = booster.predict([r[:30] for r in rows], raw_score=True)
    assert raw.tolist() == [r[30:35] for r in rows]


def test_contributions_csv(generated):
    out, summary = generated
    header, rows = read_csv(out / parity.CONTRIBUTIONS_CSV)
    names = parity.feature_names(30)
    assert header == ["row"] + parity.contrib_columns(names)
    assert len(header) == 1 + 5 * 31
    index = [int(r[0]) for r in rows]
    assert index == parity.contrib_rows(parity.Config())
    assert len(rows) == summary["contrib_rows"] >= 200
    # Plain rows, rows on split thresholds and the special rows (last 6).
    cfg = parity.Config()
    n_plain = cfg.n_eval - cfg.n_boundary - parity.N_SPECIAL
    assert any(i < n_plain for i in index)
    assert any(n_plain <= i < cfg.n_eval - parity.N_SPECIAL for i in index)
    assert set(range(cfg.n_eval - parity.N_SPECIAL, cfg.n_eval)) <= set(index)

    _, preds = read_csv(out / parity.PREDICTIONS_CSV)
    x = [preds[i][:30] for i in index]
    # SHAP values add up to the raw score, per class.
    for r, row in zip(index, rows):
        for k in range(5):
            block = row[1 + k * 31 : 1 + (k + 1) * 31]
            assert abs(sum(block) - preds[r][30 + k]) < 1e-9
    # Written with full precision, from the model as saved.
    booster = lgb.Booster(model_file=str(out / parity.MODEL_TXT))
    assert booster.predict(x, pred_contrib=True).tolist() == [r[1:] for r in rows]


def test_binary_and_linear(generated):
    out, _ = generated
    header, rows = read_csv(out / parity.BINARY_PREDICTIONS_CSV)
    assert header == parity.feature_names(8) + ["raw", "prob"]
    assert len(rows) == 200
    assert "objective=binary sigmoid:1\n" in (out / parity.BINARY_MODEL_TXT).read_text()
    linear = (out / parity.LINEAR_MODEL_TXT).read_text()
    assert "is_linear=1" in linear
    assert "[linear_tree: 1]" in linear


def test_same_seed_same_output(generated, tmp_path):
    out, _ = generated
    parity.generate(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_other_seed_other_model(generated, tmp_path):
    out, _ = generated
    parity.generate(tmp_path, parity.Config(seed=parity.Config.seed + 1))
    assert (tmp_path / parity.MODEL_TXT).read_bytes() != (out / parity.MODEL_TXT).read_bytes()


def test_committed_fixture_is_current(generated):
    """The fixture in testdata/ is what the pinned environment generates.

    A failure means requirements.txt (LightGBM, numpy) or parity.py changed
    without regenerating: run PYTHONPATH=training .venv/bin/python -m
    bgpsentry_train.parity, then go test ./classifier/lgbm.
    """
    out, _ = generated
    for name in FILES:
        committed = parity.DEFAULT_OUT / name
        assert committed.is_file(), f"{committed} missing"
        assert committed.read_bytes() == (out / name).read_bytes(), f"{committed} is stale"
