"""Go/Python parity fixtures for classifier/lgbm.

Trains small LightGBM models on seeded synthetic data and writes, into
testdata/model/parity/ by default:

  model.txt               multiclass model (5 classes, 30 features, NaNs in
                          the data), LightGBM text format as save_model writes it
  model.json              its contract: feature names, schema version, class
                          names, thresholds, metrics, data fingerprint, LightGBM
                          version, sha256 of model.txt
  predictions.csv         evaluation rows: the features, then LightGBM's
                          predict(raw_score=True) and predict() per class
  contributions.csv       for a subset of those rows (plain, on split
                          thresholds, special), LightGBM's
                          predict(pred_contrib=True): per class, the SHAP
                          value of each feature and the expected value
  binary_model.txt        a small binary model ...
  binary_predictions.csv  ... and its rows (raw score, probability)
  linear_model.txt        a tiny linear-tree model (linear_tree=True), which the
                          Go loader must refuse ...
  linear_predictions.csv  ... and LightGBM's raw scores for it, which show that
                          leaves (ignoring the linear part) predicts wrong

Floats are written with repr(), the shortest text that reads back as the same
float64, so Go parses exactly the numbers Python predicted from. Given the
same seed and the pinned LightGBM (training/requirements.txt) the output is
byte-for-byte the same: training runs on one thread with deterministic=True.

The feature names (f00, f01, ...) are synthetic: this model tests the
inference path, not the live feature schema that package features owns.

Run from the repository root:

  PYTHONPATH=training .venv/bin/python -m bgpsentry_train.parity
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "testdata" / "model" / "parity"

CLASS_NAMES = (
    "benign",
    "origin_hijack",
    "subprefix_hijack",
    "path_hijack",
    "route_leak",
)

# Schema version written into the fixture's model.json. It versions the
# synthetic fixture features, not the live schema.
FIXTURE_SCHEMA_VERSION = 1

MODEL_TXT = "model.txt"
MODEL_JSON = "model.json"
PREDICTIONS_CSV = "predictions.csv"
CONTRIBUTIONS_CSV = "contributions.csv"
BINARY_MODEL_TXT = "binary_model.txt"
BINARY_PREDICTIONS_CSV = "binary_predictions.csv"
LINEAR_MODEL_TXT = "linear_model.txt"
LINEAR_PREDICTIONS_CSV = "linear_predictions.csv"


@dataclass(frozen=True)
class Config:
    """Sizes of the parity fixture. The defaults keep all files under 2 MB."""

    seed: int = 20240601
    n_features: int = 30
    n_train: int = 3000
    n_valid: int = 600
    n_eval: int = 1200  # rows in predictions.csv
    n_boundary: int = 300  # of those, rows with values placed on split thresholds
    # Rows of predictions.csv in contributions.csv: the first contrib_plain
    # plain rows, the first contrib_boundary boundary rows, every special row.
    contrib_plain: int = 100
    contrib_boundary: int = 100
    num_boost_round: int = 40  # x 5 classes = 200 trees
    num_leaves: int = 31
    nan_fraction: float = 0.08
    binary_features: int = 8
    binary_rounds: int = 12
    binary_eval: int = 200


def feature_names(n: int) -> list[str]:
    return [f"f{i:02d}" for i in range(n)]


def make_features(rng: np.random.Generator, n_rows: int, cfg: Config) -> np.ndarray:
    """Mixed columns like BGP features: counts, flags, ratios, heavy tails.

    Values are rounded so the CSV stays small; every third column has NaNs
    (missing values), which exercises the default-direction paths.
    """
    cols = []
    for j in range(cfg.n_features):
        kind = j % 5
        if kind == 0:  # counts (path length, peers that saw it)
            col = rng.poisson(lam=2.0 + j % 7, size=n_rows).astype(np.float64)
        elif kind == 1:  # flags (RPKI invalid, new AS link)
            col = rng.integers(0, 2, size=n_rows).astype(np.float64)
        elif kind == 2:  # ratios in [0, 1]
            col = np.round(rng.beta(2.0, 5.0, size=n_rows), 4)
        elif kind == 3:  # signed continuous
            col = np.round(rng.normal(0.0, 1.0 + j / 10.0, size=n_rows), 4)
        else:  # heavy tailed (seconds since first seen)
            col = np.round(rng.lognormal(mean=3.0, sigma=1.5, size=n_rows), 2)
        cols.append(col)
    x = np.stack(cols, axis=1)
    if cfg.nan_fraction > 0:
        mask = rng.random(x.shape) < cfg.nan_fraction
        mask[:, 1::3] = False  # only every third column (0, 3, 6, ...) has NaNs
        mask[:, 2::3] = False
        x[mask] = np.nan
    return x


def make_labels(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Five classes from a noisy nonlinear score, each class well represented."""
    z = np.nan_to_num(x, nan=0.0)
    n = z.shape[0]
    scores = np.zeros((n, len(CLASS_NAMES)))
    scores[:, 0] = 1.0  # benign baseline
    scores[:, 1] = 0.6 * z[:, 1] + 0.4 * z[:, 3] - 0.1 * z[:, 0]
    scores[:, 2] = 1.5 * z[:, 2] + 0.5 * z[:, 6] * z[:, 11] - 0.2
    scores[:, 3] = 0.3 * np.log1p(z[:, 4]) + 0.5 * z[:, 8] - 0.3 * z[:, 13]
    scores[:, 4] = 0.8 * z[:, 16] + 0.4 * np.sin(z[:, 18]) + 0.5 * np.isnan(x[:, 9])
    scores += rng.normal(0.0, 0.7, size=scores.shape)
    return np.argmax(scores, axis=1)


def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<i8").tobytes())
    return "sha256:" + h.hexdigest()


def base_params(cfg: Config) -> dict:
    # One thread and deterministic=True: the same seed gives the same model text.
    return {
        "num_leaves": cfg.num_leaves,
        "learning_rate": 0.1,
        "min_data_in_leaf": 10,
        "seed": cfg.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbosity": -1,
    }


def split_thresholds(booster: lgb.Booster) -> dict[int, list[float]]:
    """Numerical split thresholds per feature index, from the model dump."""
    out: dict[int, set[float]] = {}
    stack = [t["tree_structure"] for t in booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_feature" not in node:
            continue
        if node.get("decision_type") == "<=":
            out.setdefault(node["split_feature"], set()).add(float(node["threshold"]))
        stack.append(node["left_child"])
        stack.append(node["right_child"])
    return {k: sorted(v) for k, v in out.items()}


N_SPECIAL = 6  # special rows at the end of the evaluation rows


def eval_rows(
    rng: np.random.Generator, booster: lgb.Booster, n_rows: int, n_boundary: int, cfg: Config
) -> np.ndarray:
    """Fresh rows, then rows with values on (and next to) split thresholds,
    then N_SPECIAL special rows: all NaN, all zero, +-inf, tiny values."""
    special = [
        np.full(cfg.n_features, np.nan),
        np.zeros(cfg.n_features),
        np.full(cfg.n_features, np.inf),
        np.full(cfg.n_features, -np.inf),
        np.full(cfg.n_features, 1e-40),
        np.full(cfg.n_features, -1e-40),
    ]
    assert len(special) == N_SPECIAL
    n_plain = n_rows - n_boundary - len(special)
    x = make_features(rng, n_plain + n_boundary, cfg)

    thresholds = split_thresholds(booster)
    features = sorted(thresholds)
    for i in range(n_plain, n_plain + n_boundary):
        for f in rng.choice(features, size=min(6, len(features)), replace=False):
            t = thresholds[f][rng.integers(len(thresholds[f]))]
            where = rng.integers(3)
            if where == 1:
                t = np.nextafter(t, np.inf)
            elif where == 2:
                t = np.nextafter(t, -np.inf)
            x[i, f] = t
    return np.vstack([x, np.stack(special)])


def write_predictions(path: Path, names: list[str], x: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    header = list(names) + list(columns)
    values = list(columns.values())
    lines = [",".join(header)]
    for i in range(x.shape[0]):
        row = [repr(float(v)) for v in x[i]]
        for col in values:
            row.append(repr(float(col[i])))
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def contrib_rows(cfg: Config) -> list[int]:
    """Indices into the evaluation rows of the rows in contributions.csv."""
    n_plain = cfg.n_eval - cfg.n_boundary - N_SPECIAL
    return (
        list(range(cfg.contrib_plain))
        + list(range(n_plain, n_plain + cfg.contrib_boundary))
        + list(range(cfg.n_eval - N_SPECIAL, cfg.n_eval))
    )


def contrib_columns(names: list[str]) -> list[str]:
    """Columns of contributions.csv after "row", in the order of LightGBM's
    pred_contrib output: per class, one per feature then the expected value."""
    return [f"contrib_{c}_{n}" for c in CLASS_NAMES for n in [*names, "bias"]]


def write_contributions(path: Path, names: list[str], rows: list[int], contrib: np.ndarray) -> None:
    """One line per row: its index in predictions.csv, then pred_contrib."""
    columns = contrib_columns(names)
    assert contrib.shape == (len(rows), len(columns))
    lines = [",".join(["row", *columns])]
    for i, r in enumerate(rows):
        lines.append(",".join([str(r)] + [repr(float(v)) for v in contrib[i]]))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")


def tree_count(model_text: str) -> int:
    for line in model_text.splitlines():
        if line.startswith("tree_sizes="):
            return len(line[len("tree_sizes=") :].split(" "))
    raise ValueError("model text has no tree_sizes line")


def train_multiclass(out: Path, cfg: Config) -> dict:
    rng = np.random.default_rng(cfg.seed)
    names = feature_names(cfg.n_features)
    x_train = make_features(rng, cfg.n_train, cfg)
    y_train = make_labels(rng, x_train)
    x_valid = make_features(rng, cfg.n_valid, cfg)
    y_valid = make_labels(rng, x_valid)

    params = base_params(cfg) | {"objective": "multiclass", "num_class": len(CLASS_NAMES)}
    train = lgb.Dataset(x_train, label=y_train, feature_name=names, free_raw_data=False)
    booster = lgb.train(params, train, num_boost_round=cfg.num_boost_round)

    model_path = out / MODEL_TXT
    booster.save_model(model_path)
    model_bytes = model_path.read_bytes()

    p_valid = booster.predict(x_valid)
    eps = 1e-15
    logloss = float(-np.mean(np.log(np.clip(p_valid[np.arange(len(y_valid)), y_valid], eps, 1.0))))
    accuracy = float(np.mean(np.argmax(p_valid, axis=1) == y_valid))

    x_eval = eval_rows(rng, booster, cfg.n_eval, cfg.n_boundary, cfg)
    raw = booster.predict(x_eval, raw_score=True)
    prob = booster.predict(x_eval)
    columns = {f"raw_{c}": raw[:, k] for k, c in enumerate(CLASS_NAMES)}
    columns |= {f"prob_{c}": prob[:, k] for k, c in enumerate(CLASS_NAMES)}
    write_predictions(out / PREDICTIONS_CSV, names, x_eval, columns)

    rows = contrib_rows(cfg)
    contrib = booster.predict(x_eval[rows], pred_contrib=True)
    write_contributions(out / CONTRIBUTIONS_CSV, names, rows, contrib)

    meta = {
        "feature_names": names,
        "schema_version": FIXTURE_SCHEMA_VERSION,
        "class_names": list(CLASS_NAMES),
        # Fixed, not tuned: the fixture tests loading, not alerting.
        "thresholds": {c: 0.5 for c in CLASS_NAMES[1:]},
        "metrics": {
            "valid_multi_logloss": logloss,
            "valid_accuracy": accuracy,
            "train_rows": float(cfg.n_train),
            "valid_rows": float(cfg.n_valid),
        },
        "data_fingerprint": fingerprint(x_train, y_train),
        "lightgbm_version": lgb.__version__,
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
    }
    (out / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="ascii")
    return {"trees": tree_count(model_bytes.decode()), "eval_rows": x_eval.shape[0], "contrib_rows": len(rows)}


def train_binary(out: Path, cfg: Config) -> None:
    rng = np.random.default_rng(cfg.seed + 1)
    small = Config(**{**cfg.__dict__, "n_features": cfg.binary_features})
    names = feature_names(small.n_features)
    x = make_features(rng, cfg.n_train, small)
    y = (x[:, 1] + np.nan_to_num(x[:, 3]) * 0.5 + rng.normal(0, 0.5, size=len(x)) > 0.8).astype(int)
    params = base_params(cfg) | {"objective": "binary", "num_leaves": 7}
    train = lgb.Dataset(x, label=y, feature_name=names)
    booster = lgb.train(params, train, num_boost_round=cfg.binary_rounds)
    booster.save_model(out / BINARY_MODEL_TXT)
    x_eval = make_features(rng, cfg.binary_eval, small)
    columns = {"raw": booster.predict(x_eval, raw_score=True), "prob": booster.predict(x_eval)}
    write_predictions(out / BINARY_PREDICTIONS_CSV, names, x_eval, columns)


def train_linear(out: Path, cfg: Config) -> None:
    rng = np.random.default_rng(cfg.seed + 2)
    x = rng.normal(size=(400, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    params = base_params(cfg) | {"objective": "binary", "num_leaves": 4, "linear_tree": True}
    names = feature_names(4)
    booster = lgb.train(params, lgb.Dataset(x, label=y, feature_name=names), num_boost_round=3)
    booster.save_model(out / LINEAR_MODEL_TXT)
    x_eval = np.round(rng.normal(size=(20, 4)), 4)
    raw = booster.predict(x_eval, raw_score=True)
    write_predictions(out / LINEAR_PREDICTIONS_CSV, names, x_eval, {"raw": raw})


def generate(out: Path, cfg: Config = Config()) -> dict:
    """Writes every parity fixture into out and returns a short summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = train_multiclass(out, cfg)
    train_binary(out, cfg)
    train_linear(out, cfg)
    files = [
        MODEL_TXT,
        MODEL_JSON,
        PREDICTIONS_CSV,
        CONTRIBUTIONS_CSV,
        BINARY_MODEL_TXT,
        BINARY_PREDICTIONS_CSV,
        LINEAR_MODEL_TXT,
        LINEAR_PREDICTIONS_CSV,
    ]
    summary["bytes"] = {f: (out / f).stat().st_size for f in files}
    summary["total_bytes"] = sum(summary["bytes"].values())
    summary["lightgbm_version"] = lgb.__version__
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=Config.seed, help="random seed (default: %(default)s)")
    args = ap.parse_args(argv)
    summary = generate(args.out, Config(seed=args.seed))
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
