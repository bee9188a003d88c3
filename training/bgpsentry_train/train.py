"""LightGBM multiclass training: class-balanced weights, early stopping on
the validation split, deterministic (fixed seed, deterministic=True,
force_row_wise, a fixed thread count), so the same rows give byte-identical
model text.

Rows with gated=0 are never trained on: the serving gate does not score
them, so the model never sees such a vector in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

from .config import CLASS_NAMES, TrainParams


def label_index(labels: pd.Series) -> np.ndarray:
    idx = {c: i for i, c in enumerate(CLASS_NAMES)}
    return labels.map(idx).to_numpy(dtype=np.int64)


def is_lookalike(df: pd.DataFrame) -> np.ndarray:
    """Injected benign look-alikes: label benign, scenario set."""
    return ((df["label"] == "benign") & (df["scenario"] != "")).to_numpy()


def row_weights(df: pd.DataFrame, p: TrainParams) -> tuple[np.ndarray, dict[str, float]]:
    """Training weights: each class carries the same total weight (so the
    injected attacks, a few thousand rows, count as much as the benign
    background), benign look-alikes count lookalike_weight times an
    ordinary benign row within the benign class, and a class factor never
    exceeds max_class_weight. Returns the weights and the class factors."""
    y = label_index(df["label"])
    base = df["weight"].to_numpy(dtype=np.float64).copy() if "weight" in df else np.ones(len(df))
    base[is_lookalike(df)] *= p.lookalike_weight
    totals = np.bincount(y, weights=base, minlength=len(CLASS_NAMES))
    target = totals.sum() / len(CLASS_NAMES)
    factors = {}
    w = base.copy()
    ref = target / totals[0] if totals[0] > 0 else 1.0
    for k, c in enumerate(CLASS_NAMES):
        f = target / totals[k] if totals[k] > 0 else 0.0
        f = min(f, ref * p.max_class_weight)
        factors[c] = f
        w[y == k] *= f
    # Normalise to mean 1 (LightGBM's min_sum_hessian is absolute).
    w *= len(w) / w.sum()
    return w, factors


def lgb_params(p: TrainParams, seed: int) -> dict:
    return {
        "objective": "multiclass",
        "num_class": len(CLASS_NAMES),
        "metric": "multi_logloss",
        "num_leaves": p.num_leaves,
        "learning_rate": p.learning_rate,
        "min_data_in_leaf": p.min_data_in_leaf,
        "feature_fraction": p.feature_fraction,
        "lambda_l2": p.lambda_l2,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": p.num_threads,
        "verbosity": -1,
    }


@dataclass
class Trained:
    booster: lgb.Booster  # loaded back from model_text: what Go will load
    model_text: str
    best_iteration: int
    rounds_run: int
    valid_logloss: float
    class_factors: dict[str, float]
    params: dict
    train_rows: int
    valid_rows: int


def train(train_df: pd.DataFrame, valid_df: pd.DataFrame, names: list[str], p: TrainParams, seed: int) -> Trained:
    """Trains on the gated rows of train_df, early stopping on valid_df's."""
    tr = train_df[train_df["gated"] == 1]
    va = valid_df[valid_df["gated"] == 1]
    if tr.empty:
        raise ValueError("no gated training rows")
    w_tr, factors = row_weights(tr, p)
    params = lgb_params(p, seed)
    dtrain = lgb.Dataset(tr[names].to_numpy(np.float64), label=label_index(tr["label"]), weight=w_tr, feature_name=list(names), free_raw_data=False)
    callbacks = [lgb.record_evaluation(evals := {})]
    valid_sets, valid_names = [], []
    if not va.empty:
        w_va, _ = row_weights(va, p)
        dvalid = lgb.Dataset(va[names].to_numpy(np.float64), label=label_index(va["label"]), weight=w_va, reference=dtrain)
        valid_sets, valid_names = [dvalid], ["valid"]
        callbacks.append(lgb.early_stopping(p.early_stopping_rounds, first_metric_only=True, verbose=False))
    booster = lgb.train(params, dtrain, num_boost_round=p.max_rounds, valid_sets=valid_sets, valid_names=valid_names, callbacks=callbacks)
    best = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
    text = booster.model_to_string(num_iteration=best)
    loaded = lgb.Booster(model_str=text)
    curve = evals.get("valid", {}).get("multi_logloss", [])
    return Trained(
        booster=loaded,
        model_text=text,
        best_iteration=best,
        rounds_run=len(curve) if curve else booster.current_iteration(),
        valid_logloss=float(curve[best - 1]) if curve else float("nan"),
        class_factors=factors,
        params=params,
        train_rows=len(tr),
        valid_rows=len(va),
    )


def tree_count(model_text: str) -> int:
    for line in model_text.splitlines():
        if line.startswith("tree_sizes="):
            return len(line[len("tree_sizes=") :].split(" "))
    return 0
