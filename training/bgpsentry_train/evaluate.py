"""Thresholds and metrics, with the serving rule of classifier.Classify:

    predicted class = the most probable non-benign class whose probability
                      passes its threshold, else benign.

Rows with gated=0 are labelled attacks (or look-alikes) that the serving
gate does not score: they are predicted benign, so an attack there is a
miss. Row weights (1/benign_rate for sampled background rows) make rates
and precision refer to the real number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import pandas as pd

from .config import ATTACK_CLASSES, CLASS_NAMES, Targets
from .train import is_lookalike, label_index

K = len(CLASS_NAMES)


def predict(booster: lgb.Booster, df: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Class probabilities per row; rows with gated=0 get NaN (not scored)."""
    p = np.full((len(df), K), np.nan)
    g = (df["gated"] == 1).to_numpy()
    if g.any():
        p[g] = booster.predict(df.loc[g, names].to_numpy(np.float64))
    return p


def decide(proba: np.ndarray, thresholds: dict[str, float]) -> np.ndarray:
    """The serving rule; rows with NaN probabilities (gated=0) are benign."""
    th = np.array([np.inf] + [thresholds[c] for c in ATTACK_CLASSES])
    pr = np.nan_to_num(proba, nan=-1.0)
    passing = pr >= th
    masked = np.where(passing, pr, -np.inf)
    masked[:, 0] = -np.inf
    best = np.argmax(masked, axis=1)
    best[~passing[:, 1:].any(axis=1)] = 0
    return best


def _weights(df: pd.DataFrame) -> np.ndarray:
    return df["weight"].to_numpy(np.float64) if "weight" in df else np.ones(len(df))


@dataclass
class ThresholdChoice:
    threshold: float
    raw: float | None  # the lowest threshold reaching the precision target, before clamping (None: none does)
    precision: float  # one-vs-rest precision at the threshold, validation split
    recall: float  # one-vs-rest recall at the threshold (gated=0 positives are misses)
    positives: int
    reached: bool
    floor: float | None = None  # the event-level floor raised the threshold to this (targets.event_floors)


def ovr_curve(score: np.ndarray, pos: np.ndarray, w: np.ndarray, n_pos_total: float):
    """One-vs-rest precision and recall at every distinct score, as the
    threshold (predicted positive = score >= t). Rows with NaN scores are
    never predicted positive; n_pos_total counts every positive (weighted).
    Returns (thresholds ascending, precision, recall)."""
    ok = ~np.isnan(score)
    s, p, ww = score[ok], pos[ok], w[ok]
    order = np.argsort(-s, kind="stable")
    s, p, ww = s[order], p[order], ww[order]
    tp = np.cumsum(ww * p)
    al = np.cumsum(ww)
    # The last index of each run of equal scores: the threshold = that score.
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1] if len(s) else np.array([], dtype=int)
    t = s[last]
    prec = tp[last] / al[last]
    rec = tp[last] / n_pos_total if n_pos_total > 0 else np.zeros(len(last))
    return t[::-1], prec[::-1], rec[::-1]


def choose_thresholds(df: pd.DataFrame, proba: np.ndarray, targets: Targets) -> dict[str, ThresholdChoice]:
    """Per attack class: the lowest threshold whose one-vs-rest precision on
    these rows is >= targets.precision, clamped to [threshold_min,
    threshold_max]. When no threshold reaches the target, threshold_max.
    Then raised to the class's event-level floor (targets.event_floors),
    if it has one above."""
    y = label_index(df["label"])
    w = _weights(df)
    out = {}
    for k, c in enumerate(CLASS_NAMES):
        if k == 0:
            continue
        pos = y == k
        n_pos = float(w[pos].sum())
        t, prec, rec = ovr_curve(proba[:, k], pos, w, n_pos)
        ok = np.flatnonzero(prec >= targets.precision)
        raw = float(t[ok[0]]) if len(ok) and n_pos > 0 else None
        th = targets.threshold_max if raw is None else min(max(raw, targets.threshold_min), targets.threshold_max)
        floor = targets.event_floors.get(c)
        floor = float(floor) if floor is not None and floor > th else None
        th = floor if floor is not None else th
        sel = np.nan_to_num(proba[:, k], nan=-1.0) >= th
        p_at = float(w[sel & pos].sum() / w[sel].sum()) if w[sel].sum() > 0 else float("nan")
        r_at = float(w[sel & pos].sum() / n_pos) if n_pos > 0 else float("nan")
        out[c] = ThresholdChoice(th, raw, p_at, r_at, int(pos.sum()), bool(raw is not None and p_at >= targets.precision), floor)
    return out


@dataclass
class Evaluation:
    per_class: pd.DataFrame  # class -> precision, recall, support, predicted, tp, gated0
    confusion: pd.DataFrame  # true class x predicted class (weighted row counts)
    lookalike_alert_rate: float
    lookalikes: int
    background_alert_rate: float
    background_rows: float
    per_scenario: pd.DataFrame
    per_background: pd.DataFrame
    pred: np.ndarray
    extra: dict = field(default_factory=dict)


def evaluate(df: pd.DataFrame, proba: np.ndarray, thresholds: dict[str, float]) -> Evaluation:
    y = label_index(df["label"])
    w = _weights(df)
    pred = decide(proba, thresholds)
    gated0 = (df["gated"] == 0).to_numpy()
    rows = []
    for k, c in enumerate(CLASS_NAMES):
        pos, sel = y == k, pred == k
        tp = float(w[pos & sel].sum())
        npred, npos = float(w[sel].sum()), float(w[pos].sum())
        rows.append(
            {
                "class": c,
                "precision": tp / npred if npred > 0 else float("nan"),
                "recall": tp / npos if npos > 0 else float("nan"),
                "support": int(pos.sum()),
                "predicted": int(sel.sum()),
                "tp": int((pos & sel).sum()),
                "gated0": int((pos & gated0).sum()),
            }
        )
    per_class = pd.DataFrame(rows).set_index("class")
    conf = np.zeros((K, K))
    np.add.at(conf, (y, pred), w)
    confusion = pd.DataFrame(conf, index=list(CLASS_NAMES), columns=list(CLASS_NAMES))

    look = is_lookalike(df)
    bgb = ((df["label"] == "benign") & (df["scenario"] == "")).to_numpy()
    alert = pred != 0
    look_rate = float(w[look & alert].sum() / w[look].sum()) if look.any() else float("nan")
    bg_rate = float(w[bgb & alert].sum() / w[bgb].sum()) if bgb.any() else float("nan")

    sc = pd.DataFrame(
        {
            "label": df["label"].to_numpy(),
            "scenario": df["scenario"].replace("", "(background)").to_numpy(),
            "hit": (pred == y) * w,
            "alert": alert,
            "gated0": gated0,
            "w": w,
        }
    )
    g = sc.groupby(["label", "scenario"], sort=True)
    per_scenario = pd.DataFrame(
        {
            "rows": g.size(),
            "gated0": g["gated0"].sum(),
            "recall": g["hit"].sum() / g["w"].sum(),
            "alert_rate": g.apply(lambda x: float((x["w"] * x["alert"]).sum() / x["w"].sum()), include_groups=False),
            "alert_rate_scored": g.apply(lambda x: float((x["w"] * x["alert"] * ~x["gated0"]).sum() / (x["w"] * ~x["gated0"]).sum()) if (~x["gated0"]).any() else float("nan"), include_groups=False),
        }
    ).reset_index()
    # For benign groups "recall" is meaningless: hit means "not alerted".
    per_scenario.loc[per_scenario["label"] == "benign", "recall"] = np.nan

    # Per background: the benign (unlabelled) rows, how many of them alert
    # and as what, per hour of the scored stream; recall of its attacks.
    recs = []
    bgs = df["background"].to_numpy()
    times = df["time"].to_numpy() if "time" in df else np.zeros(len(df))
    for name in sorted(set(bgs)):
        m = bgs == name
        b = m & bgb
        hours = (times[b].max() - times[b].min()) / 3600 if b.any() else float("nan")
        att = m & (y != 0)
        rec = {
            "background": name,
            "benign rows": float(w[b].sum()),
            "alerts": float(w[b & alert].sum()),
            "alert rate": float(w[b & alert].sum() / w[b].sum()) if b.any() else float("nan"),
            "hours scored": hours,
            "alerts/hour": float(w[b & alert].sum() / hours) if hours and hours > 0 else float("nan"),
        }
        for k, c in enumerate(CLASS_NAMES):
            if k:
                rec[f"as {c}"] = float(w[b & (pred == k)].sum())
        rec["attack rows"] = int(att.sum())
        rec["attack recall"] = float(w[att & (pred == y)].sum() / w[att].sum()) if att.any() else float("nan")
        recs.append(rec)
    per_background = pd.DataFrame(recs)
    return Evaluation(per_class, confusion, look_rate, int(look.sum()), bg_rate, float(w[bgb].sum()), per_scenario, per_background, pred)


def targets_met(ev: Evaluation, targets: Targets) -> dict[str, bool]:
    out = {}
    for c in ATTACK_CLASSES:
        r = ev.per_class.loc[c]
        out[c] = bool(r["precision"] >= targets.precision and r["recall"] >= targets.recall)
    out["lookalikes"] = bool(not ev.lookalikes or ev.lookalike_alert_rate < targets.lookalike_alert_rate)
    return out
