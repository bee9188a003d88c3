"""Plots (PNG, matplotlib Agg) and the Markdown report training/REPORT.md."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .config import ATTACK_CLASSES, CLASS_NAMES, Config  # noqa: E402
from .evaluate import Evaluation, ThresholdChoice, ovr_curve  # noqa: E402
from .train import Trained, label_index  # noqa: E402

PLOTS = {
    "pr": "pr_curves.png",
    "confusion": "confusion.png",
    "importance": "feature_importance.png",
    "scores": "score_distributions.png",
}
REAL_DATA_HEADER = "## Real-data runs"
REAL_DATA_PLACEHOLDER = "_Placeholder: the lead fills this section with runs of the exported model on real incident data (e.g. the 2008 YouTube hijack files), which the pipeline never trains or tests on. The pipeline keeps this section when it rewrites the report._"

# PNG bytes do not depend on the run (no date; matplotlib writes its version).
_SAVE = {"dpi": 110, "metadata": {"Software": None}}


def _colors():
    return plt.rcParams["axes.prop_cycle"].by_key()["color"]


def plot_pr_curves(df: pd.DataFrame, proba: np.ndarray, thresholds: dict[str, float], path: Path) -> None:
    y = label_index(df["label"])
    w = df["weight"].to_numpy(np.float64)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    for k, c in enumerate(CLASS_NAMES):
        if k == 0:
            continue
        pos = y == k
        if not pos.any():
            continue
        t, prec, rec = ovr_curve(proba[:, k], pos, w, float(w[pos].sum()))
        (line,) = ax.plot(rec, prec, label=f"{c} (n={int(pos.sum())})", color=_colors()[k - 1])
        if len(t):
            i = min(np.searchsorted(t, thresholds[c]), len(t) - 1)
            ax.plot(rec[i], prec[i], "o", color=line.get_color())
    ax.axhline(0.95, color="grey", lw=0.8, ls="--")
    ax.axvline(0.95, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("recall (gated=0 attacks count as misses)")
    ax.set_ylabel("precision (one vs rest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title("Test split: precision-recall per class (dot = chosen threshold)")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)


def plot_confusion(conf: pd.DataFrame, path: Path) -> None:
    m = conf.to_numpy()
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=30, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{m[i, j]:.0f}\n{norm[i, j]:.1%}", ha="center", va="center", fontsize=8, color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xlabel("predicted (serving rule, thresholds)")
    ax.set_ylabel("true")
    ax.set_title("Test split: confusion matrix (row-normalised colour)")
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)


def importance_table(trained: Trained, names: list[str]) -> pd.DataFrame:
    b = trained.booster
    gain = b.feature_importance(importance_type="gain")
    split = b.feature_importance(importance_type="split")
    t = pd.DataFrame({"feature": names, "gain": gain, "splits": split})
    total = t["gain"].sum()
    t["share"] = t["gain"] / total if total > 0 else 0.0
    return t.sort_values(["gain", "feature"], ascending=[False, True]).reset_index(drop=True)


def plot_importance(imp: pd.DataFrame, path: Path, top: int = 30) -> None:
    t = imp.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(t) + 1.2))
    ax.barh(t["feature"], t["share"])
    ax.set_xlabel("share of total gain")
    ax.set_title(f"Feature importance (gain), top {len(t)}")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)


def plot_scores(df: pd.DataFrame, proba: np.ndarray, thresholds: dict[str, float], path: Path) -> None:
    y = label_index(df["label"])
    look = ((df["label"] == "benign") & (df["scenario"] != "")).to_numpy()
    ok = ~np.isnan(proba[:, 0])
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    bins = np.linspace(0, 1, 51)
    for ax, c in zip(axes.flat, ATTACK_CLASSES):
        k = CLASS_NAMES.index(c)
        groups = [
            ("true " + c, ok & (y == k)),
            ("other attacks", ok & (y != k) & (y != 0)),
            ("benign look-alikes", ok & look),
            ("background benign", ok & (y == 0) & ~look),
        ]
        for (lab, m), col in zip(groups, _colors()):
            if m.any():
                ax.hist(proba[m, k], bins=bins, histtype="step", label=f"{lab} ({int(m.sum())})", color=col, density=True)
        ax.axvline(thresholds[c], color="black", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_title(f"P({c})", fontsize=10)
        ax.legend(fontsize=7, loc="upper center")
    fig.suptitle("Test split: score distributions (density, log scale; dashed = threshold)")
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)


@dataclass
class ReportData:
    cfg: Config
    config_path: str
    command: str
    names: list[str]
    schema_version: int
    schema_source: str
    split_counts: pd.DataFrame  # split x label (rows kept)
    dropped_bucket: int
    dropped_no_attacker: int
    dropped_by_background: dict
    backgrounds: pd.DataFrame  # name, split, files, per_class, rows, cached, seconds, summaries
    trained: Trained
    choices: dict[str, ThresholdChoice]
    valid_eval: Evaluation
    test_eval: Evaluation
    importance: pd.DataFrame
    fingerprint: str
    lightgbm_version: str
    model_sha256: str
    parity_rows: int
    timings: dict[str, float]
    met: dict[str, bool]
    test_df: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:.2f}%"


def _num(v: float, d: int = 4) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{d}f}"


def _table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        out.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(out)


def existing_real_data(report: Path) -> str:
    """The body of the report's Real-data runs section, kept across rewrites."""
    if not report.is_file():
        return REAL_DATA_PLACEHOLDER
    text = report.read_text()
    m = re.search(r"^## Real-data runs[^\n]*\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    body = m.group(1).strip() if m else ""
    return body or REAL_DATA_PLACEHOLDER


def _feature_contrast(df: pd.DataFrame, a: np.ndarray, b: np.ndarray, names: list[str], top: int = 3) -> str:
    """The features whose means differ most (in standard deviations of the
    union) between row sets a and b: "`f` 0.12 vs 0.80"."""
    if a.sum() < 3 or b.sum() < 3:
        return ""
    x = df[names].to_numpy(np.float64)
    xa, xb = x[a], x[b]
    sd = np.nanstd(np.vstack([xa, xb]), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(np.nanmean(xa, axis=0) - np.nanmean(xb, axis=0)) / sd
    z = np.where(np.isfinite(z), z, 0.0)
    idx = [i for i in np.argsort(-z, kind="stable")[:top] if z[i] > 0.2]
    return ", ".join(f"`{names[i]}` {np.nanmean(xa[:, i]):.3g} vs {np.nanmean(xb[:, i]):.3g}" for i in idx)


RPKI_STATUS = ("rpki_valid", "rpki_invalid_asn", "rpki_invalid_length", "rpki_not_found")


def rpki_recall(d: ReportData) -> pd.DataFrame | None:
    """Recall per attack class and RPKI status of the announcement (the
    rpki_* flag features), when the schema has them."""
    df = d.test_df
    if df.empty or not all(f in df for f in RPKI_STATUS):
        return None
    y = label_index(df["label"])
    w = df["weight"].to_numpy(np.float64)
    hit = d.test_eval.pred == y
    rows = []
    for k, c in enumerate(CLASS_NAMES):
        if k == 0:
            continue
        rec = {"class": c}
        for f in RPKI_STATUS:
            m = (y == k) & (df[f].to_numpy() == 1)
            rec[f.removeprefix("rpki_")] = f"{w[m & hit].sum() / w[m].sum():.1%} of {int(m.sum())}" if m.any() else "-"
        rows.append(rec)
    return pd.DataFrame(rows)


def gap_advice(d: ReportData) -> list[str]:
    """What would close the gap, per missed target, from the test numbers."""
    t = d.cfg.targets
    out = []
    pc = d.test_eval.per_class
    ps = d.test_eval.per_scenario
    df = d.test_df
    pred = d.test_eval.pred
    y = label_index(df["label"])
    gated = (df["gated"] == 1).to_numpy()
    look = ((df["label"] == "benign") & (df["scenario"] != "")).to_numpy()
    for k, c in enumerate(CLASS_NAMES):
        if k == 0 or d.met.get(c):
            continue
        r = pc.loc[c]
        ch = d.choices[c]
        why = []
        if r["support"] == 0:
            out.append(f"- **{c}**: no test rows at all; raise `per_class` or `repeats` of the test backgrounds, or check the injector's scenarios for this class.")
            continue
        if r["recall"] < t.recall:
            if r["gated0"] > 0:
                share = r["gated0"] / r["support"]
                why.append(f"{int(r['gated0'])} of {int(r['support'])} test attacks ({share:.1%}) are never scored (gated=0), a recall ceiling of {1 - share:.1%} that only a wider serving gate (features.State) can lift.")
            scen = ps[(ps["label"] == c) & (ps["rows"] >= 5)].sort_values("recall").head(3)
            weak = [f"`{s.scenario}` {s.recall:.0%} of {s.rows} rows" for s in scen.itertuples() if s.recall < t.recall]
            if weak:
                why.append("Weakest scenarios: " + ", ".join(weak) + ".")
            conf = d.test_eval.confusion.loc[c].drop(c).sort_values(ascending=False)
            if conf.iloc[0] > 0:
                why.append(f"Misses are mostly predicted `{conf.index[0]}` ({conf.iloc[0]:.0f}).")
            miss = (y == k) & gated & (pred != k)
            hit = (y == k) & (pred == k)
            fc = _feature_contrast(df, miss, hit, d.names)
            if fc:
                why.append(f"Missed rows differ from caught ones most in {fc} (missed vs caught means): the evidence the model lacks for them; a feature that keeps its value for these rows, or more varied training injections of them, would help.")
        if not ch.reached:
            why.append(f"On validation no threshold reached precision {t.precision} (the cap {ch.threshold} applies): the class overlaps benign rows or another class in feature space.")
        if r["precision"] < t.precision:
            fp = (pred == k) & (y != k)
            src = np.where(look[fp], "look-alike " + df["scenario"].to_numpy()[fp], np.where(y[fp] == 0, "background " + df["background"].to_numpy()[fp], "true " + df["label"].to_numpy()[fp]))
            top = pd.Series(df["weight"].to_numpy()[fp]).groupby(src).sum().sort_values(ascending=False, kind="stable").head(3)
            why.append(
                f"Precision {r['precision']:.3f} on test against {ch.precision:.3f} on validation at the same threshold; false alerts (rows) come from "
                + ", ".join(f"{n} ({v:.0f})" for n, v in top.items())
                + "."
            )
            fc = _feature_contrast(df, fp & (y == 0), (y == k) & (pred == k), d.names)
            if fc:
                why.append(f"Those benign rows look like true {c} rows except in {fc} (false vs true alert means).")
            if c == "route_leak" and "valley_violation" in df:
                bgb = (y == 0) & ~look
                share = float((df["weight"].to_numpy()[bgb] * (df["valley_violation"].to_numpy()[bgb] == 1)).sum() / df["weight"].to_numpy()[bgb].sum())
                why.append(
                    f"{share:.0%} of the test backgrounds' own benign rows violate valley-free routing under `{Path(d.cfg.asrel).name}`: with relationships years away from the "
                    "background's date, a valley is no evidence of a leak; relationships of the background's date (or inferred from its RIBs) and features of what changed "
                    "(the suspect newly inserted into the peer's path) would separate them."
                )
        out.append(f"- **{c}** (precision {_num(r['precision'], 3)}, recall {_num(r['recall'], 3)}): " + " ".join(why))
    if not d.met.get("lookalikes"):
        lk = ps[(ps["label"] == "benign") & (ps["scenario"] != "(background)")].sort_values("alert_rate", ascending=False).head(3)
        worst = ", ".join(f"`{s.scenario}` {s.alert_rate:.1%}" for s in lk.itertuples())
        out.append(
            f"- **look-alikes** alerted {_pct(d.test_eval.lookalike_alert_rate)} (target < {_pct(t.lookalike_alert_rate)}); worst: {worst}. "
            "Raise `train.lookalike_weight`, inject more look-alikes, or add the evidence that tells them apart (a ROA covering the new origin, a sibling or customer relation, origin history)."
        )
    if out:
        out.append(
            f"- **Precision and prevalence**: precision is measured against the injected attacks, whose share of the rows is set by `per_class` and `repeats`; in live traffic attacks are far rarer, "
            f"so the operational number is the background alert rate ({_pct(d.test_eval.background_alert_rate)} of the test backgrounds' benign rows here, see the table per background), "
            "and a class's threshold may need raising until that rate is acceptable."
        )
    return out


def markdown(d: ReportData, report_path: Path, plots_dir: Path) -> str:
    rel = os.path.relpath(plots_dir, report_path.parent)
    cfg, t = d.cfg, d.cfg.targets
    te, va = d.test_eval, d.valid_eval
    L = []
    L.append("# bgpsentry model: training report")
    L.append("")
    L.append(f"Written by `{d.command}` (training/bgpsentry_train/pipeline.py) from `{d.config_path}`. Do not edit by hand except the section *Real-data runs*, which the pipeline keeps.")
    L.append("")
    met_all = all(d.met.values())
    L.append("## Summary")
    L.append("")
    L.append(
        f"- Model: LightGBM {d.lightgbm_version} multiclass, {d.trained.best_iteration} rounds x {len(CLASS_NAMES)} classes = "
        f"{d.trained.best_iteration * len(CLASS_NAMES)} trees, {cfg.train.num_leaves} leaves max, {len(d.names)} features (schema v{d.schema_version}, from {d.schema_source})."
    )
    L.append(f"- Targets: recall >= {t.recall} at precision >= {t.precision} per attack class, benign look-alikes alerted < {_pct(t.lookalike_alert_rate)}: **{'all met' if met_all else 'not all met'}** ({', '.join(k + (' ok' if v else ' MISSED') for k, v in d.met.items())}).")
    L.append(f"- Test: look-alikes alerted {_pct(te.lookalike_alert_rate)} of {te.lookalikes}; background benign rows alerted {_pct(te.background_alert_rate)} of {te.background_rows:.0f}.")
    L.append(f"- Data fingerprint: `{d.fingerprint}`; model.txt sha256 `{d.model_sha256}`.")
    tot = sum(d.timings.values())
    L.append(f"- Run time {tot:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in d.timings.items()) + ").")
    for n in d.notes:
        L.append(f"- {n}")
    L.append("")
    L.append("## Test metrics (unseen backgrounds, unseen attacker ASes)")
    L.append("")
    rows = []
    for c in CLASS_NAMES:
        r = te.per_class.loc[c]
        th = "-" if c == "benign" else f"{d.choices[c].threshold:.4f}"
        rows.append([c, th, _num(r["precision"]), _num(r["recall"]), int(r["support"]), int(r["gated0"]), int(r["predicted"])])
    L.append(_table(pd.DataFrame(rows, columns=["class", "threshold", "precision", "recall", "test rows", "of which gated=0", "predicted"])))
    L.append("")
    L.append("Predicted class = the most probable attack class whose probability passes its threshold, else benign (classifier.Classify). Rows with gated=0 are labelled rows that the serving gate does not score: they count as predicted benign, so an attack among them is a miss. The benign row includes the look-alikes.")
    L.append("")
    L.append(f"![precision-recall]({rel}/{PLOTS['pr']})")
    L.append("")
    L.append("### Confusion matrix (test)")
    L.append("")
    conf = te.confusion.round(0).astype(int).reset_index().rename(columns={"index": "true \\ predicted"})
    L.append(_table(conf))
    L.append("")
    L.append(f"![confusion matrix]({rel}/{PLOTS['confusion']})")
    L.append("")
    L.append("### Per scenario (test)")
    L.append("")
    L.append("Recall = predicted as the labelled class; alert rate = predicted as any attack class (for benign groups, the false-alarm rate); scored = among the rows the gate scores (gated=1).")
    L.append("")
    ps = te.per_scenario.copy()
    ps["recall"] = ps["recall"].map(lambda v: _pct(v))
    ps["alert_rate"] = ps["alert_rate"].map(lambda v: _pct(v))
    ps["alert_rate_scored"] = ps["alert_rate_scored"].map(lambda v: _pct(v))
    ps = ps.rename(columns={"gated0": "gated=0", "alert_rate": "alert rate", "alert_rate_scored": "alert rate (scored)"})
    L.append(_table(ps[["label", "scenario", "rows", "gated=0", "recall", "alert rate", "alert rate (scored)"]]))
    L.append("")
    L.append("### Per background (test)")
    L.append("")
    L.append("Benign rows of each test background (its real traffic, not the look-alikes) that alert, and as which class; a row is one scored announcement, before alerts are grouped into events.")
    L.append("")
    pb = te.per_background.copy()
    for col in pb.columns:
        if col in ("benign rows", "alerts", "attack rows") or col.startswith("as "):
            pb[col] = pb[col].round(0).astype(int)
    pb["alert rate"] = pb["alert rate"].map(_pct)
    pb["attack recall"] = pb["attack recall"].map(_pct)
    pb["hours scored"] = pb["hours scored"].map(lambda v: _num(v, 2))
    pb["alerts/hour"] = pb["alerts/hour"].map(lambda v: _num(v, 0))
    L.append(_table(pb))
    L.append("")
    rp = rpki_recall(d)
    if rp is not None:
        L.append("### Recall by RPKI status (test)")
        L.append("")
        L.append(
            "The injector writes ROAs (vrps.json) for about half of the victims and 30% of the other prefixes, so many injected attacks are RPKI-invalid. "
            "Where no ROA covers a prefix (rpki_not_found), or in runs without --rpki (all older data, e.g. the 2008 YouTube files), the model has only the routing evidence:"
        )
        L.append("")
        L.append(_table(rp))
        L.append("")
    L.append("### Score distributions (test)")
    L.append("")
    L.append(f"![score distributions]({rel}/{PLOTS['scores']})")
    L.append("")
    L.append("## Thresholds and why")
    L.append("")
    L.append(
        f"Each attack class gets the lowest probability threshold at which its one-vs-rest precision on the **validation** split is >= {t.precision} "
        f"(rows with p >= threshold predicted as the class), clamped to [{t.threshold_min}, {t.threshold_max}]. The lowest such threshold keeps the most recall "
        f"at the target precision. The floor {t.threshold_min} keeps a class from alerting on weak scores, where the validation split has too few benign rows "
        f"to measure the false-alarm tail of real traffic; the cap {t.threshold_max} keeps every class reachable. A class that never reaches the target gets the cap. "
        "The test split played no part in choosing them."
    )
    L.append("")
    if t.event_floors:
        L.append(
            "Rows are not what an operator sees. A class with an *event floor* (`targets.event_floors` in pipeline.json) gets at least that threshold: "
            f"the lowest floor at which the class's alert events on the **validation** streams, scored through `bgpsentry score` with their real "
            f"backgrounds, reach precision {t.precision}, when that floor keeps at least half of the class's event recall there (`python -m bgpsentry_train.operating --split valid`; training/operating-points.md has the "
            "test-split and real-data cost of each floor). Row precision on validation misses the false-alarm tail of real traffic; events do not. "
            "Floors: " + ", ".join(f"{c} {v}" for c, v in sorted(t.event_floors.items())) + "."
        )
        L.append("")
    rows = []
    for c in ATTACK_CLASSES:
        ch = d.choices[c]
        rows.append([c, f"{ch.threshold:.4f}", "none" if ch.raw is None else f"{ch.raw:.4f}", "-" if ch.floor is None else f"{ch.floor:.4f}",
                     _num(ch.precision), _num(ch.recall), ch.positives, "yes" if ch.reached else "no"])
    L.append(_table(pd.DataFrame(rows, columns=["class", "threshold", "lowest reaching target (unclamped)", "event floor", "valid precision", "valid recall", "valid rows", "target reached"])))
    L.append("")
    vr = []
    for c in ATTACK_CLASSES:
        r = va.per_class.loc[c]
        vr.append([c, _num(r["precision"]), _num(r["recall"])])
    L.append("With the serving rule (all classes at once) on validation: " + "; ".join(f"{c} precision {p}, recall {r}" for c, p, r in vr) + f"; look-alikes alerted {_pct(va.lookalike_alert_rate)}.")
    L.append("")
    L.append("## Training")
    L.append("")
    p = cfg.train
    L.append(
        f"LightGBM multiclass (softmax), learning rate {p.learning_rate}, at most {p.max_rounds} rounds with early stopping after {p.early_stopping_rounds} rounds "
        f"without improvement of the validation multi_logloss (best round {d.trained.best_iteration} of {d.trained.rounds_run} run, valid logloss {_num(d.trained.valid_logloss)}), "
        f"num_leaves {p.num_leaves}, min_data_in_leaf {p.min_data_in_leaf}, lambda_l2 {p.lambda_l2}, feature_fraction {p.feature_fraction}; "
        f"seed {cfg.seed}, deterministic=True, force_row_wise, {p.num_threads} thread(s): the same rows give byte-identical model.txt. "
        "Only gated rows train (gated=0 rows are never scored in serving)."
        + (f" {p.note}" if p.note else "")
    )
    L.append("")
    L.append(
        f"Class weights: every class carries the same total weight, look-alikes weigh {p.lookalike_weight}x an ordinary benign row inside the benign class, "
        "sampled background rows weigh 1/benign_rate. Class factors (per row, before normalising to mean 1): "
        + ", ".join(f"{c} {v:.3g}" for c, v in d.trained.class_factors.items())
        + "."
    )
    L.append("")
    L.append(f"![feature importance]({rel}/{PLOTS['importance']})")
    L.append("")
    top = d.importance.head(15).copy()
    top["share"] = top["share"].map(lambda v: f"{100 * v:.1f}%")
    top["gain"] = top["gain"].map(lambda v: f"{v:.4g}")
    L.append(_table(top[["feature", "share", "gain", "splits"]]))
    L.append("")
    unused = d.importance[d.importance["splits"] == 0]["feature"].tolist()
    if unused:
        L.append("Features the model never splits on: " + ", ".join(f"`{u}`" for u in unused) + ".")
        L.append("")
    L.append("## Data and splits")
    L.append("")
    L.append(
        "Rows come from `bgpsentry inject` (attacks and benign look-alikes injected into a real update stream, with labels and the VRPs that go with them) "
        "then `bgpsentry featurize` (the serving feature code). Every background belongs to one split; an attack row also needs its attacker AS in that split's "
        f"bucket (sha256 of the decimal ASN mod {cfg.as_buckets.modulus}: train {list(cfg.as_buckets.train)}, valid {list(cfg.as_buckets.valid)}, test {list(cfg.as_buckets.test)}), "
        "else it is dropped. So test attacks come from attacker ASes and backgrounds the model never saw. Benign rows (look-alikes included) follow their background."
    )
    L.append("")
    bgt = d.backgrounds.copy()
    L.append(_table(bgt))
    L.append("")
    sc = d.split_counts.copy()
    sc.insert(0, "split", sc.index)
    sc["total"] = sc[[c for c in sc.columns if c != "split"]].sum(axis=1)
    L.append("Rows per split and label, after dropping:")
    L.append("")
    L.append(_table(sc.reset_index(drop=True)))
    L.append("")
    by = ", ".join(f"{k} {v}" for k, v in d.dropped_by_background.items())
    L.append(f"Dropped: {d.dropped_bucket} attack rows whose attacker AS hashes into another split's bucket" + (f" ({by})" if by else "") + f", {d.dropped_no_attacker} attack rows without an attacker AS.")
    L.append("")
    L.append(f"Model: {d.trained.train_rows} gated training rows, {d.trained.valid_rows} gated validation rows. Data fingerprint (sha256 over the row files, in config order): `{d.fingerprint}`.")
    L.append("")
    L.append("## What would close the gap")
    L.append("")
    adv = gap_advice(d)
    L.extend(adv if adv else ["Every target is met on the test split. The caveat stays: injected attacks are only as varied as the injector's scenarios; the real-data runs below are the check."])
    L.append("")
    L.append("## Export")
    L.append("")
    if d.parity_rows:
        L.append(
            f"`classifier/model/model.txt` and `model.json` (feature names, schema version {d.schema_version}, class names, thresholds, test metrics, data fingerprint, "
            f"LightGBM version, model sha256), and the Go parity fixture `testdata/model/bgpsentry/` (the same model, and {d.parity_rows} test rows with LightGBM's raw scores and probabilities, %.17g)."
        )
    else:
        L.append("Not exported in this run (--no-export); the model is in the run's work directory (OUT/model).")
    L.append("")
    L.append(REAL_DATA_HEADER)
    L.append("")
    L.append(existing_real_data(report_path))
    L.append("")
    return "\n".join(L)


def write_plots(d: ReportData, test_df: pd.DataFrame, test_proba: np.ndarray, plots_dir: Path) -> None:
    plots_dir.mkdir(parents=True, exist_ok=True)
    th = {c: d.choices[c].threshold for c in ATTACK_CLASSES}
    plot_pr_curves(test_df, test_proba, th, plots_dir / PLOTS["pr"])
    plot_confusion(d.test_eval.confusion, plots_dir / PLOTS["confusion"])
    plot_importance(d.importance, plots_dir / PLOTS["importance"])
    plot_scores(test_df, test_proba, th, plots_dir / PLOTS["scores"])
