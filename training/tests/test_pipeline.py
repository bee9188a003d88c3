"""Tests of the training pipeline on small synthetic rows made here.

The end-to-end test runs the real pipeline against a fake `bgpsentry`
(this module, run as a script through a small wrapper) that writes inject
outputs and featurize rows like the real commands, so that the stamp
caching, the exports and the report are exercised without MRT data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from bgpsentry_train import config as cfgmod
from bgpsentry_train import evaluate, export, pipeline, rows, splits, train
from bgpsentry_train.config import ATTACK_CLASSES, CLASS_NAMES, ASBuckets, Targets, TrainParams

FEATURES = ["prefix_len", "origin_changed", "more_specific", "new_link", "valley", "rpki_invalid", "sibling", "noise_a", "noise_b"]
SCHEMA_VERSION = 3
LOOKALIKES = ("sibling_origin", "prepend")


# ---------------------------------------------------------------------------
# Synthetic rows


def synth_rows(seed: int, background: str, n_benign: int, per_class: int, benign_rate: float = 1.0) -> pd.DataFrame:
    """Rows shaped like featurize output: FEATURES, then rows.META_COLUMNS.
    Each attack class has a strong signal, plus noise and NaNs; look-alikes
    resemble origin hijacks but carry `sibling`; ~5% of the attacks are
    gated=0."""
    rng = np.random.default_rng(seed)
    recs = []

    def row(label, scenario, attacker, gated):
        f = {
            "prefix_len": float(rng.integers(16, 25)),
            "origin_changed": float(rng.random() < 0.03),
            "more_specific": float(rng.random() < 0.02),
            "new_link": float(rng.random() < 0.05),
            "valley": float(rng.random() < 0.02),
            "rpki_invalid": float(rng.random() < 0.01),
            "sibling": float(rng.random() < 0.02),
            "noise_a": float(rng.normal()),
            "noise_b": float(np.round(rng.lognormal(2, 1), 3)) if rng.random() > 0.1 else float("nan"),
        }
        if label == "origin_hijack":
            f["origin_changed"] = float(rng.random() < 0.95)
            f["rpki_invalid"] = float(rng.random() < 0.5)
        elif label == "subprefix_hijack":
            f["more_specific"] = 1.0
            f["origin_changed"] = float(rng.random() < 0.9)
            f["prefix_len"] = 24.0
        elif label == "path_hijack":
            f["new_link"] = 1.0
        elif label == "route_leak":
            f["valley"] = float(rng.random() < 0.97)
        elif scenario:  # look-alike
            f["origin_changed"] = 1.0
            f["sibling"] = float(rng.random() < 0.9)
        t = 1_600_000_000 + int(rng.integers(0, 900))
        recs.append(
            f
            | {
                "label": label,
                "gated": gated,
                "scenario": scenario,
                "attacker_asn": attacker,
                "background": background,
                "time": t,
                "peer_asn": int(rng.integers(1, 400000)),
                "prefix": f"10.{rng.integers(0, 255)}.{rng.integers(0, 255)}.0/24",
                "origin_asn": int(rng.integers(1, 400000)),
                "suspect_asn": int(attacker) if attacker else 0,
                "path": "1 2 3",
            }
        )

    kept = int(round(n_benign * benign_rate))
    for _ in range(kept):
        row("benign", "", "", 1)
    for c in ATTACK_CLASSES:
        for _ in range(per_class):
            att = str(64500 + int(rng.integers(0, 120)))
            row(c, c + "_scn" + str(int(rng.integers(0, 2))), att, int(rng.random() >= 0.05))
    for s in LOOKALIKES:
        for _ in range(per_class // 2):
            row("benign", s, str(64500 + int(rng.integers(0, 120))), int(rng.random() >= 0.05))
    return pd.DataFrame(recs, columns=FEATURES + list(rows.META_COLUMNS))


def write_rows_csv(df: pd.DataFrame, path: Path) -> None:
    """Writes like Go's strconv 'g' -1 (shortest round-trip), NaN as NaN."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(df.columns)
        for rec in df.itertuples(index=False):
            out = []
            for v in rec:
                if isinstance(v, float):
                    out.append("NaN" if np.isnan(v) else repr(v).removesuffix(".0") if v.is_integer() else repr(v))
                else:
                    out.append(str(v))
            w.writerow(out)


BG_SPLITS = {"bgA": "train", "bgB": "train", "bgV": "valid", "bgT": "test"}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[pd.DataFrame, list[str]]:
    """The four backgrounds written as CSV and read back by rows.read_rows."""
    d = tmp_path_factory.mktemp("rows")
    frames = []
    for i, bg in enumerate(BG_SPLITS):
        p = d / f"{bg}.csv"
        write_rows_csv(synth_rows(100 + i, bg, 1500, 120 if BG_SPLITS[bg] == "train" else 300), p)
        df, names = rows.read_rows(p)
        frames.append(df)
    return pd.concat(frames, ignore_index=True), names


def small_params(**kw) -> TrainParams:
    return TrainParams(**({"num_leaves": 15, "max_rounds": 40, "early_stopping_rounds": 10, "num_threads": 1} | kw))


# ---------------------------------------------------------------------------
# Rows


def test_read_rows_roundtrip(tmp_path):
    df0 = synth_rows(1, "bgX", 50, 5)
    p = tmp_path / "r.csv"
    write_rows_csv(df0, p)
    df, names = rows.read_rows(p, benign_rate=0.25)
    assert names == FEATURES
    assert len(df) == len(df0)
    a, b = df0[FEATURES].to_numpy(), df[FEATURES].to_numpy()
    assert np.array_equal(np.isnan(a), np.isnan(b))
    assert np.array_equal(np.nan_to_num(a), np.nan_to_num(b))
    assert (df["scenario"] == df0["scenario"]).all() and (df["attacker_asn"] == df0["attacker_asn"]).all()
    # Sampled background benign rows stand for 1/benign_rate rows; labelled rows for one.
    bgb = (df["label"] == "benign") & (df["scenario"] == "")
    assert (df.loc[bgb, "weight"] == 4.0).all() and (df.loc[~bgb, "weight"] == 1.0).all()


def test_read_rows_refuses_bad_columns(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b,label,gated\n1,2,benign,1\n")
    with pytest.raises(rows.RowsError, match="columns after the features"):
        rows.read_rows(p)


def test_collector_name_like_go():
    c = rows.collector_name
    assert c("/d/jwbensley-dnas/rrc01.updates.20241001.0055.gz") == "rrc01"
    assert c("/d/morrowc-mrtparser/updates.20260222.1530.bz2") == "morrowc-mrtparser"
    assert c("/d/route-views2/bgpdata/2008.02/UPDATES/updates.20080224.1839.bz2") == "route-views2"
    assert c("/d/routeviews.route-views.jinx.updates.1427846400.bz2") == "route-views.jinx"
    assert c("/out/backgrounds/x/rrc01/injected.mrt") == "rrc01"


def test_schema_from_names_go(tmp_path):
    go = tmp_path / "names.go"
    go.write_text("package features\n\n// doc\nconst SchemaVersion = 7\n")
    assert rows.schema(None, go)[0] == 7


# ---------------------------------------------------------------------------
# Splits


def test_as_bucket_is_sha256_of_decimal_asn():
    for asn in ("13335", 13335, "AS13335", " 13335"):
        assert splits.as_bucket(asn, 10) == int(hashlib.sha256(b"13335").hexdigest(), 16) % 10


def test_split_by_background_and_attacker_as(synthetic):
    df, _ = synthetic
    buckets = ASBuckets()
    res = splits.assign(df, BG_SPLITS, buckets)
    kept = res.split != ""
    # Backgrounds respected: every kept row is in its background's split.
    assert (res.split[kept] == df.loc[kept, "background"].map(BG_SPLITS)).all()
    # No attacker AS in two splits, no background in two splits.
    assert splits.check_disjoint(df, res.split) == []
    att = kept & (df["label"] != "benign")
    per_as = pd.Series(res.split[att].to_numpy(), index=df.loc[att, "attacker_asn"]).groupby(level=0).nunique()
    assert (per_as == 1).all() and len(per_as) > 10
    # Each kept attack row's attacker hashes into its split's bucket.
    for asn, s in zip(df.loc[att, "attacker_asn"], res.split[att]):
        assert buckets.split_of(splits.as_bucket(asn, 10)) == s
    # Benign rows (look-alikes included) are never dropped; dropped rows are
    # attack rows whose bucket is another split's, and they are counted.
    dropped = ~kept
    assert (df.loc[dropped, "label"] != "benign").all()
    assert res.dropped_bucket == int(dropped.sum()) > 0
    assert res.dropped_no_attacker == 0
    assert sum(res.dropped_by_background.values()) == res.dropped_bucket
    counts = res.counts(df)
    assert counts.to_numpy().sum() == int(kept.sum())
    for s in cfgmod.SPLITS:
        assert counts.loc[s, "benign"] > 0


def test_split_drops_attack_rows_without_attacker():
    df = synth_rows(3, "bgA", 10, 4)
    df.loc[df["label"] == "route_leak", "attacker_asn"] = ""
    res = splits.assign(df, {"bgA": "train"}, ASBuckets())
    assert res.dropped_no_attacker == 4
    assert (res.split[df["label"] == "route_leak"] == "").all()


def test_split_refuses_unknown_background():
    with pytest.raises(ValueError, match="without a split"):
        splits.assign(synth_rows(3, "bgZ", 5, 1), {"bgA": "train"}, ASBuckets())


# ---------------------------------------------------------------------------
# Thresholds


def _one_class_frame(labels: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "scenario": [""] * len(labels), "gated": 1, "weight": 1.0, "background": "b"})


def _proba(scores: list[float], k: int = 1) -> np.ndarray:
    p = np.zeros((len(scores), len(CLASS_NAMES)))
    p[:, k] = scores
    p[:, 0] = 1 - np.asarray(scores)
    return p


def brute_force_threshold(score, pos, target, lo, hi):
    best = None
    for t in sorted(set(score)):
        sel = score >= t
        if sel.sum() and pos[sel].mean() >= target:
            best = t
            break
    return hi if best is None else min(max(best, lo), hi)


def test_threshold_lowest_reaching_precision():
    # Scores 0.40..0.97 in steps of 0.01; negatives at 0.40..0.59 and one at 0.75.
    scores = [round(0.40 + 0.01 * i, 2) for i in range(58)]
    labels = ["origin_hijack" if (s >= 0.60 and s != 0.75) else "benign" for s in scores]
    df = _one_class_frame(labels)
    ch = evaluate.choose_thresholds(df, _proba(scores), Targets())["origin_hijack"]
    # At 0.60: 37 of 38 rows positive, precision 0.974 >= 0.95; at 0.59 37/39 = 0.949.
    assert ch.threshold == pytest.approx(0.60)
    assert ch.raw == pytest.approx(0.60)
    assert ch.reached and ch.precision >= 0.95
    assert ch.recall == pytest.approx(1.0)


def test_threshold_clamped_and_unreachable():
    # Perfect separation at a low score: clamped up to the floor 0.3.
    df = _one_class_frame(["origin_hijack"] * 20 + ["benign"] * 20)
    ch = evaluate.choose_thresholds(df, _proba([0.1] * 20 + [0.01] * 20), Targets())
    assert ch["origin_hijack"].raw == pytest.approx(0.1)
    assert ch["origin_hijack"].threshold == 0.3
    # Never precise enough: the cap.
    df = _one_class_frame(["origin_hijack", "benign"] * 10)
    ch = evaluate.choose_thresholds(df, _proba([0.9] * 20), Targets())
    assert ch["origin_hijack"].raw is None and ch["origin_hijack"].threshold == 0.99 and not ch["origin_hijack"].reached
    # A class without validation rows gets the cap too.
    assert ch["route_leak"].threshold == 0.99 and ch["route_leak"].positives == 0


def test_threshold_event_floor():
    scores = [round(0.40 + 0.01 * i, 2) for i in range(58)]
    labels = ["origin_hijack" if (s >= 0.60 and s != 0.75) else "benign" for s in scores]
    df = _one_class_frame(labels)
    # A floor above the row choice raises the threshold; one below is ignored.
    ch = evaluate.choose_thresholds(df, _proba(scores), Targets(event_floors={"origin_hijack": 0.9}))["origin_hijack"]
    assert ch.threshold == pytest.approx(0.9) and ch.floor == pytest.approx(0.9) and ch.raw == pytest.approx(0.60)
    assert ch.recall < 1.0
    ch = evaluate.choose_thresholds(df, _proba(scores), Targets(event_floors={"origin_hijack": 0.5}))["origin_hijack"]
    assert ch.threshold == pytest.approx(0.60) and ch.floor is None


def test_threshold_matches_brute_force():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = 300
        pos = rng.random(n) < 0.3
        score = np.round(np.clip(rng.normal(np.where(pos, 0.7, 0.35), 0.15), 0, 1), 3)
        df = _one_class_frame(np.where(pos, "route_leak", "benign").tolist())
        ch = evaluate.choose_thresholds(df, _proba(score.tolist(), k=4), Targets())["route_leak"]
        assert ch.threshold == pytest.approx(brute_force_threshold(score, pos, 0.95, 0.3, 0.99))


def test_decide_is_the_serving_rule():
    p = np.array(
        [
            [0.1, 0.5, 0.4, 0.0, 0.0],  # origin passes
            [0.1, 0.45, 0.45, 0.0, 0.0],  # tie: the first (lower index) class
            [0.6, 0.2, 0.2, 0.0, 0.0],  # none passes: benign even though benign is not argmax of attacks
            [0.0, 0.35, 0.65, 0.0, 0.0],  # subprefix below its threshold 0.7, origin passes
            [np.nan] * 5,  # gated=0: benign
        ]
    )
    th = {"origin_hijack": 0.3, "subprefix_hijack": 0.7, "path_hijack": 0.5, "route_leak": 0.5}
    assert evaluate.decide(p, th).tolist() == [1, 1, 0, 1, 0]


# ---------------------------------------------------------------------------
# Training, determinism, gated=0


@pytest.fixture(scope="module")
def trained(synthetic):
    df, names = synthetic
    res = splits.assign(df, BG_SPLITS, ASBuckets())
    parts = {s: df[res.split == s] for s in cfgmod.SPLITS}
    return parts, names, train.train(parts["train"], parts["valid"], names, small_params(), seed=11)


def test_training_learns_and_skips_gated0(trained):
    parts, names, tr = trained
    assert tr.train_rows == int((parts["train"]["gated"] == 1).sum()) < len(parts["train"])
    assert 0 < tr.best_iteration <= 40
    assert train.tree_count(tr.model_text) == tr.best_iteration * len(CLASS_NAMES)
    p = evaluate.predict(tr.booster, parts["test"], names)
    g = (parts["test"]["gated"] == 1).to_numpy()
    assert np.isnan(p[~g]).all() and not np.isnan(p[g]).any()
    acc = (np.argmax(p[g], axis=1) == train.label_index(parts["test"]["label"])[g]).mean()
    assert acc > 0.8


def test_class_weights_balance_classes(synthetic):
    df, _ = synthetic
    p = TrainParams(lookalike_weight=3.0)
    w, factors = train.row_weights(df, p)
    y = train.label_index(df["label"])
    totals = np.bincount(y, weights=w)
    assert np.allclose(totals, totals[0])
    assert w.mean() == pytest.approx(1.0)
    look = train.is_lookalike(df)
    bgb = (y == 0) & ~look
    assert w[look][0] == pytest.approx(3.0 * w[bgb][0])
    assert factors["origin_hijack"] > factors["benign"]


def test_training_is_deterministic(trained):
    parts, names, tr = trained
    again = train.train(parts["train"], parts["valid"], names, small_params(), seed=11)
    assert again.model_text == tr.model_text
    other = train.train(parts["train"], parts["valid"], names, small_params(feature_fraction=0.7), seed=12)
    assert other.model_text != tr.model_text


def test_gated0_attacks_count_as_misses(trained):
    parts, names, tr = trained
    test = parts["test"].copy()
    th = {c: 0.5 for c in ATTACK_CLASSES}
    p = evaluate.predict(tr.booster, test, names)
    base = evaluate.evaluate(test, p, th)
    # Un-gate nothing, but mark every subprefix hijack gated=0: recall 0.
    sub = (test["label"] == "subprefix_hijack").to_numpy()
    test.loc[sub, "gated"] = 0
    p2 = evaluate.predict(tr.booster, test, names)
    ev = evaluate.evaluate(test, p2, th)
    r = ev.per_class.loc["subprefix_hijack"]
    assert r["recall"] == 0 and r["gated0"] == r["support"] == int(sub.sum()) > 0
    assert (ev.pred[sub] == 0).all()
    assert ev.confusion.loc["subprefix_hijack", "benign"] == sub.sum()
    # The gated=0 rows already in the data count in the support of the base evaluation too.
    for c in ATTACK_CLASSES:
        row = base.per_class.loc[c]
        assert row["support"] == int((parts["test"]["label"] == c).sum())
        assert row["recall"] <= 1 - row["gated0"] / row["support"] + 1e-12


def test_lookalike_and_background_alert_rates():
    df = pd.DataFrame(
        {
            "label": ["benign"] * 6,
            "scenario": ["", "", "", "prepend", "prepend", "sibling_origin"],
            "gated": [1, 1, 1, 1, 1, 0],
            "weight": [2.0, 2.0, 2.0, 1.0, 1.0, 1.0],
            "background": "b",
        }
    )
    p = _proba([0.9, 0.1, 0.1, 0.9, 0.1, 0.0])
    p[5] = np.nan
    ev = evaluate.evaluate(df, p, {c: 0.5 for c in ATTACK_CLASSES})
    assert ev.lookalike_alert_rate == pytest.approx(1 / 3)
    assert ev.background_alert_rate == pytest.approx(1 / 3)
    assert ev.background_rows == pytest.approx(6.0)


# ---------------------------------------------------------------------------
# Export


def test_export_contract(trained, tmp_path):
    parts, names, tr = trained
    th = {c: 0.5 for c in ATTACK_CLASSES}
    meta = export.model_meta(tr.model_text, names, SCHEMA_VERSION, th, {"test_recall_route_leak": 0.9, "bad": float("nan")}, "sha256:ab")
    assert tuple(meta) == export.META_KEYS
    assert meta["feature_names"] == names == FEATURES
    assert meta["class_names"] == list(CLASS_NAMES)
    assert meta["schema_version"] == SCHEMA_VERSION and isinstance(meta["schema_version"], int)
    assert set(meta["thresholds"]) == set(ATTACK_CLASSES)
    assert all(0 <= v <= 1 for v in meta["thresholds"].values())
    assert meta["metrics"] == {"test_recall_route_leak": 0.9}  # NaN dropped: JSON has none
    assert meta["lightgbm_version"] == lgb.__version__
    export.write_model(tmp_path / "m", tr.model_text, meta)
    txt = (tmp_path / "m" / "model.txt").read_bytes()
    js = json.loads((tmp_path / "m" / "model.json").read_text())
    assert js == meta
    assert hashlib.sha256(txt).hexdigest() == js["model_sha256"]
    # The text's own feature names are the contract's (what the Go loader compares).
    line = next(l for l in txt.decode().splitlines() if l.startswith("feature_names="))
    assert line.split("=", 1)[1].split(" ") == js["feature_names"]
    assert "num_class=5" in txt.decode()


def test_parity_fixture(trained, tmp_path):
    parts, names, tr = trained
    meta = export.model_meta(tr.model_text, names, SCHEMA_VERSION, {c: 0.5 for c in ATTACK_CLASSES}, {}, "sha256:ab")
    sel = export.parity_rows(parts["test"], 400, seed=3)
    assert len(sel) == 400 and (sel["gated"] == 1).all()
    assert set(sel["label"]) == set(CLASS_NAMES)
    assert (sel["scenario"].isin(LOOKALIKES)).any()
    n = export.write_parity(tmp_path, tr.model_text, meta, sel, names)
    assert n == 400
    with (tmp_path / export.PREDICTIONS_CSV).open() as f:
        recs = list(csv.reader(f))
    assert recs[0] == names + [f"raw_{c}" for c in CLASS_NAMES] + [f"prob_{c}" for c in CLASS_NAMES]
    vals = np.array([[float(v) for v in r] for r in recs[1:]])
    x = vals[:, : len(names)]
    assert np.array_equal(np.isnan(x), np.isnan(sel[names].to_numpy()))
    booster = lgb.Booster(model_file=str(tmp_path / "model.txt"))
    # Written at full precision: parsing the file gives back LightGBM's exact float64s.
    assert np.array_equal(vals[:, len(names) : len(names) + 5], booster.predict(x, raw_score=True))
    assert np.array_equal(vals[:, len(names) + 5 :], booster.predict(x))


# ---------------------------------------------------------------------------
# End to end, with a fake bgpsentry


FAKE = """#!{python}
import sys
sys.path[:0] = [{training!r}, {tests!r}]
import test_pipeline
sys.exit(test_pipeline.fake_main(sys.argv[1:]))
"""


def _flag(args: list[str], name: str, default=None, many=False):
    vals = [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]
    if many:
        return vals
    return vals[-1] if vals else default


def fake_main(argv: list[str]) -> int:
    """A stand-in for dist/bgpsentry: inject and featurize (synthetic)."""
    calls = os.environ.get("FAKE_BGPSENTRY_CALLS")
    if calls:
        with open(calls, "a") as f:
            f.write(" ".join(argv[:1]) + "\n")
    cmd, args = argv[0], argv[1:]
    if cmd == "featurize" and "--schema" in args:
        print(json.dumps({"schema_version": SCHEMA_VERSION, "feature_names": FEATURES}))
        return 0
    if cmd == "inject":
        out = Path(_flag(args, "--out"))
        out.mkdir(parents=True, exist_ok=True)
        assert _flag(args, "--background", many=True)
        (out / "injected.mrt").write_text(f"{_flag(args, '--seed')} {_flag(args, '--per-class')}\n")
        (out / "labels.csv").write_text("time_unix,peer_addr,prefix,label,scenario,attacker_asn\n")
        (out / "vrps.json").write_text("{}\n")
        (out / "scenarios.json").write_text("[]\n")
        print("inject: done", file=sys.stderr)
        return 0
    if cmd == "featurize":
        name = _flag(args, "--background")
        rate = float(_flag(args, "--benign-rate", "1"))
        labels = _flag(args, "--labels")
        seed, per_class = 0, 0
        if labels:
            seed, per_class = (int(v) for v in (Path(labels).parent / "injected.mrt").read_text().split())
        df = synth_rows(seed, name, 1200, per_class, benign_rate=rate)
        write_rows_csv(df, Path(_flag(args, "-o")))
        print(f"featurize: {len(df)} rows written", file=sys.stderr)
        return 0
    print(f"fake bgpsentry: unknown command {cmd}", file=sys.stderr)
    return 2


@pytest.fixture()
def fake_setup(tmp_path, monkeypatch):
    training = Path(__file__).resolve().parents[1]
    binary = tmp_path / "bgpsentry"
    binary.write_text(FAKE.format(python=sys.executable, training=str(training), tests=str(Path(__file__).parent)))
    binary.chmod(0o755)
    data = tmp_path / "data"
    data.mkdir()
    for f in ("rrc01.updates.a.gz", "rrc01.updates.b.gz", "rrc23.updates.c.gz", "rrc21.updates.d.gz", "rrc01.updates.storm.gz", "asrel.txt"):
        (data / f).write_text(f)
    conf = {
        "_comment": "test config",
        "seed": 5,
        "asrel": str(data / "asrel.txt"),
        "parity_rows": 300,
        "train": {"num_leaves": 15, "max_rounds": 30, "early_stopping_rounds": 10},
        "backgrounds": [
            {"name": "a", "files": [str(data / "rrc01.updates.a.gz"), str(data / "rrc01.updates.b.gz")], "split": "train", "per_class": 150},
            {"name": "storm", "files": [str(data / "rrc01.updates.storm.gz")], "split": "train", "per_class": 0, "benign_rate": 0.5},
            {"name": "v", "files": [str(data / "rrc23.updates.c.gz")], "split": "valid", "per_class": 200, "repeats": 2},
            {"name": "t", "files": [str(data / "rrc21.updates.d.gz")], "split": "test", "per_class": 400},
        ],
    }
    cpath = tmp_path / "pipeline.json"
    cpath.write_text(json.dumps(conf))
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_BGPSENTRY_CALLS", str(calls))
    out = tmp_path / "out"
    argv = [
        "--config", str(cpath), "--bin", str(binary), "--out", str(out),
        "--model-dir", str(tmp_path / "model"), "--fixture-dir", str(tmp_path / "fixture"),
        "--report", str(tmp_path / "REPORT.md"), "--plots", str(tmp_path / "report"), "--jobs", "2",
        "--source-root", str(tmp_path / "src"),
    ]  # fmt: skip
    (tmp_path / "src" / "features").mkdir(parents=True)
    (tmp_path / "src" / "features" / "names.go").write_text("package features\n")
    return tmp_path, argv, calls


def test_pipeline_end_to_end(fake_setup):
    tmp, argv, calls = fake_setup
    assert pipeline.main(argv) == 0
    first_calls = calls.read_text().splitlines()
    assert sorted(first_calls).count("inject") == 4  # the storm (per_class 0) is not injected
    assert sorted(first_calls).count("featurize") == 5 + 1  # + featurize --schema
    # The inject output directory is named after the background's collector.
    assert (tmp / "out" / "backgrounds" / "a" / "r0" / "rrc01" / "injected.mrt").is_file()
    # Repeats inject again (another seed) but add no second copy of the background's rows.
    v0 = pd.read_csv(tmp / "out" / "backgrounds" / "v" / "r0" / "rows.csv", keep_default_na=False)
    v1 = pd.read_csv(tmp / "out" / "backgrounds" / "v" / "r1" / "rows.csv", keep_default_na=False)
    assert ((v1["label"] == "benign") & (v1["scenario"] == "")).sum() == 0
    assert not v0[FEATURES].equals(v1[FEATURES].iloc[: len(v0)])

    meta = json.loads((tmp / "model" / "model.json").read_text())
    txt = (tmp / "model" / "model.txt").read_bytes()
    assert tuple(meta) == export.META_KEYS
    assert meta["feature_names"] == FEATURES and meta["schema_version"] == SCHEMA_VERSION
    assert meta["model_sha256"] == hashlib.sha256(txt).hexdigest()
    assert all(0.3 <= meta["thresholds"][c] <= 0.99 for c in ATTACK_CLASSES)
    for c in ATTACK_CLASSES:
        assert 0 <= meta["metrics"][f"test_recall_{c}"] <= 1
    assert (tmp / "fixture" / "model.txt").read_bytes() == txt
    assert (tmp / "fixture" / "predictions.csv").read_text().count("\n") == 301
    for png in ("pr_curves.png", "confusion.png", "feature_importance.png", "score_distributions.png"):
        assert (tmp / "report" / png).stat().st_size > 1000
    rep = (tmp / "REPORT.md").read_text()
    for section in ("## Test metrics", "## Thresholds and why", "### Per scenario", "## Data and splits", "## What would close the gap", "## Real-data runs", meta["data_fingerprint"]):
        assert section in rep
    assert "](report/pr_curves.png)" in rep
    summary = json.loads((tmp / "out" / "summary.json").read_text())
    assert summary["dropped_bucket"] > 0

    # Second run: every background is cached, the model is byte-identical,
    # and a filled-in Real-data runs section survives the rewrite.
    rep = rep.replace(report_placeholder(), "Lead's notes: YouTube 2008 detected at 18:48.")
    (tmp / "REPORT.md").write_text(rep)
    calls.write_text("")
    assert pipeline.main(argv) == 0
    assert calls.read_text().splitlines() == ["featurize"]  # only --schema
    assert (tmp / "model" / "model.txt").read_bytes() == txt
    assert "Lead's notes: YouTube 2008 detected at 18:48." in (tmp / "REPORT.md").read_text()

    # A changed input invalidates that background's stamp only.
    (tmp / "data" / "rrc21.updates.d.gz").write_text("changed")
    calls.write_text("")
    assert pipeline.main(argv + ["--no-export"]) == 0
    assert sorted(calls.read_text().splitlines()) == ["featurize", "featurize", "inject"]
    # A test file or the classifier (whose model the binary embeds) does not
    # change the rows; the featurizer's sources do.
    (tmp / "src" / "features" / "names_test.go").write_text("package features\n")
    (tmp / "src" / "classifier").mkdir()
    (tmp / "src" / "classifier" / "c.go").write_text("package classifier\n")
    calls.write_text("")
    assert pipeline.main(argv + ["--no-export"]) == 0
    assert calls.read_text().splitlines() == ["featurize"]
    (tmp / "src" / "features" / "names.go").write_text("package features\n\nconst SchemaVersion = 3\n")
    calls.write_text("")
    assert pipeline.main(argv + ["--no-export"]) == 0
    assert calls.read_text().count("inject") == 4


def test_lgb_seed_reaches_lightgbm_alone(fake_setup, monkeypatch):
    """--lgb-seed changes LightGBM's seed and nothing else: the rows are the
    cached ones (no inject or featurize), the configuration's seed still
    drives the rest."""
    tmp, argv, calls = fake_setup
    assert pipeline.main(argv) == 0
    seeds = []
    real = pipeline.train.train

    def spy(train_df, valid_df, names, p, seed):
        seeds.append(seed)
        return real(train_df, valid_df, names, p, seed)

    monkeypatch.setattr(pipeline.train, "train", spy)
    calls.write_text("")
    assert pipeline.main(argv + ["--no-export", "--lgb-seed", "11"]) == 0
    assert pipeline.main(argv + ["--no-export"]) == 0
    assert seeds == [11, 5]
    assert calls.read_text().splitlines() == ["featurize", "featurize"]  # only --schema
    # train.seed of the configuration, when given, is LightGBM's.
    cpath = Path(argv[argv.index("--config") + 1])
    conf = json.loads(cpath.read_text())
    conf["train"]["seed"] = 9
    cpath.write_text(json.dumps(conf))
    assert pipeline.main(argv + ["--no-export"]) == 0
    assert seeds[-1] == 9


def report_placeholder() -> str:
    from bgpsentry_train import report

    return report.REAL_DATA_PLACEHOLDER


def test_config_errors(tmp_path):
    bad = {"asrel": "x", "backgrounds": [{"name": "a", "files": ["f"], "split": "holdout"}]}
    with pytest.raises(cfgmod.ConfigError, match="split"):
        cfgmod.parse(bad)
    with pytest.raises(cfgmod.ConfigError, match="unknown keys"):
        cfgmod.parse({"asrel": "x", "backgrounds": [{"name": "a", "files": ["f"], "split": "train", "perclass": 3}]})
    with pytest.raises(cfgmod.ConfigError, match="bucket"):
        cfgmod.parse({"asrel": "x", "as_buckets": {"modulus": 10, "train": [0], "valid": [1], "test": [2]}, "backgrounds": [{"name": "a", "files": ["f"], "split": "train"}]})
    ok = [{"name": "a", "files": ["f"], "split": "train"}]
    with pytest.raises(cfgmod.ConfigError, match="unknown class"):
        cfgmod.parse({"asrel": "x", "targets": {"event_floors": {"leak": 0.9}}, "backgrounds": ok})
    with pytest.raises(cfgmod.ConfigError, match="probability"):
        cfgmod.parse({"asrel": "x", "targets": {"event_floors": {"route_leak": 2}}, "backgrounds": ok})
    assert cfgmod.parse({"asrel": "x", "targets": {"event_floors": {"route_leak": 0.98}}, "backgrounds": ok}).targets.event_floors == {"route_leak": 0.98}


def test_repository_config_is_valid():
    cfg = cfgmod.load(cfgmod.REPO_ROOT / "training" / "pipeline.json")
    assert {b.split for b in cfg.backgrounds} == set(cfgmod.SPLITS)
    for b in cfg.backgrounds:
        for f in b.files + b.baseline:
            assert not Path(f).is_absolute() and f.startswith("../shared/data/"), f
            assert "youtube" not in f, "the 2008 YouTube files are the real-incident acceptance test"
    assert not Path(cfg.asrel).is_absolute()


def test_tool_fingerprint_covers_the_featurizer_not_the_classifier():
    root = cfgmod.REPO_ROOT
    files = {str(p.relative_to(root)) for p in rows._tool_files(root)}
    assert {"cmd/bgpsentry/featurize.go", "cmd/bgpsentry/inject.go", "features/names.go", "go.mod"} <= files
    assert not any(f.startswith("classifier/") or f.endswith("_test.go") for f in files)
    assert rows.tool_fingerprint(root) == rows.tool_fingerprint(root)
