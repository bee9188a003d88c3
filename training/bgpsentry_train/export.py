"""Export of the trained model: classifier/model/{model.txt,model.json} (the
contract classifier/lgbm.LoadDir checks) and the Go parity fixture
testdata/model/bgpsentry/ (the same model, its contract, and test rows with
LightGBM's raw scores and probabilities at full precision)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from .config import CLASS_NAMES

MODEL_TXT = "model.txt"
MODEL_JSON = "model.json"
PREDICTIONS_CSV = "predictions.csv"

# Keys of model.json, as classifier/lgbm.Meta reads them.
META_KEYS = (
    "feature_names",
    "schema_version",
    "class_names",
    "thresholds",
    "metrics",
    "data_fingerprint",
    "lightgbm_version",
    "model_sha256",
)


def model_meta(
    model_text: str,
    names: list[str],
    schema_version: int,
    thresholds: dict[str, float],
    metrics: dict[str, float],
    data_fingerprint: str,
) -> dict:
    clean = {}
    for k, v in sorted(metrics.items()):
        v = float(v)
        if np.isfinite(v):  # JSON has no NaN; Go's float64 map would refuse it
            clean[k] = v
    return {
        "feature_names": list(names),
        "schema_version": int(schema_version),
        "class_names": list(CLASS_NAMES),
        "thresholds": {c: float(thresholds[c]) for c in CLASS_NAMES[1:]},
        "metrics": clean,
        "data_fingerprint": data_fingerprint,
        "lightgbm_version": lgb.__version__,
        "model_sha256": hashlib.sha256(model_text.encode()).hexdigest(),
    }


def write_model(out: Path, model_text: str, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_TXT).write_text(model_text, encoding="ascii", newline="\n")
    (out / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n", encoding="ascii", newline="\n")


def fmt(v: float) -> str:
    return "%.17g" % v


def parity_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """n gated rows, deterministic: every class (and look-alikes) represented,
    the rest at random."""
    g = df[df["gated"] == 1]
    rng = np.random.default_rng(seed)
    groups = [g[(g["label"] == c) & (g["scenario"] == "")] if c == "benign" else g[g["label"] == c] for c in CLASS_NAMES]
    groups.append(g[(g["label"] == "benign") & (g["scenario"] != "")])
    per = max(1, n // (2 * len(groups)))
    picked = []
    for grp in groups:
        if len(grp):
            picked.append(np.sort(rng.choice(grp.index.to_numpy(), size=min(per, len(grp)), replace=False)))
    chosen = np.unique(np.concatenate(picked)) if picked else np.array([], dtype=int)
    rest = np.setdiff1d(g.index.to_numpy(), chosen)
    more = n - len(chosen)
    if more > 0 and len(rest):
        chosen = np.concatenate([chosen, np.sort(rng.choice(rest, size=min(more, len(rest)), replace=False))])
    return g.loc[np.sort(chosen)]


def write_parity(out: Path, model_text: str, meta: dict, rows: pd.DataFrame, names: list[str]) -> int:
    """Writes the fixture; returns the number of rows. Features and scores
    are written with %.17g, which reads back as the same float64."""
    write_model(out, model_text, meta)
    booster = lgb.Booster(model_str=model_text)
    x = rows[names].to_numpy(np.float64)
    raw = booster.predict(x, raw_score=True)
    prob = booster.predict(x)
    header = list(names) + [f"raw_{c}" for c in CLASS_NAMES] + [f"prob_{c}" for c in CLASS_NAMES]
    lines = [",".join(header)]
    for i in range(len(x)):
        lines.append(",".join(fmt(v) for v in np.concatenate([x[i], raw[i], prob[i]])))
    (out / PREDICTIONS_CSV).write_text("\n".join(lines) + "\n", encoding="ascii", newline="\n")
    return len(x)
