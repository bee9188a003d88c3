"""Why an injected attack raised no event (misses.reason, explain)."""

import numpy as np
import pandas as pd

from bgpsentry_train import events_eval as ee
from bgpsentry_train import misses

TH = {"origin_hijack": 0.99, "subprefix_hijack": 0.99, "path_hijack": 0.995, "route_leak": 0.7}


def inst(cls="origin_hijack", att=666, prefixes=("10.0.0.0/24",), peers=2, i=1):
    return {"id": i, "class": cls, "scenario": "s", "attacker_asn": att, "prefixes": list(prefixes),
            "peers": [{"addr": f"192.0.2.{p}"} for p in range(peers)]}


def rows(peers, suspects):
    return pd.DataFrame({"peer_asn": peers, "suspect_asn": suspects})


def proba(rows_p, k):
    """Probability rows_p[i] for class k, the rest on benign."""
    out = np.zeros((len(rows_p), 5))
    out[:, k] = rows_p
    out[:, 0] = 1 - np.asarray(rows_p)
    return out


def test_reasons_in_order():
    i = inst()
    r2 = rows([1, 2], [666, 666])
    strong = proba([0.999, 0.999], 1)
    # 1. An event names the attacker, as another class.
    ev = [{"type": "PATH_HIJACK", "suspect_asn": 666, "prefix": "10.0.0.0/24"}]
    assert misses.reason(i, ev, [], r2, strong, TH) == "named as another class"
    # 2. Vetoed (the most frequent veto of the verdicts naming it).
    vet = [{"class": "origin_hijack", "suspect_asn": 666, "prefix": "10.0.0.0/24", "veto": v}
           for v in ("sibling", "owner_upstream", "owner_upstream")]
    assert misses.reason(i, [], vet, r2, strong, TH) == "vetoed: owner_upstream"
    # A veto of another suspect or class does not count.
    other = [dict(vet[0], suspect_asn=7), dict(vet[0], **{"class": "route_leak"})]
    assert misses.reason(i, [], other, r2, strong, TH) == "flagged on two peers, never together"
    # 3. Flagged on two peers, naming another AS.
    assert misses.reason(i, [], [], rows([1, 2], [9, 9]), strong, TH) == "flagged, another suspect named, alerted (AS9)"
    vet9 = [dict(vet[0], suspect_asn=9, veto="leak_without_valley")]
    assert misses.reason(i, [], vet9, rows([1, 2], [9, 9]), strong, TH) == \
        "flagged, another suspect named, vetoed: leak_without_valley (AS9)"
    # 5. One peer; 6. weak; 7. benign; 8. not scored.
    assert misses.reason(i, [], [], rows([1, 1], [666, 666]), strong, TH) == "flagged on one peer"
    assert misses.reason(i, [], [], r2, proba([0.9, 0.9], 1), TH) == "weak evidence only"
    assert misses.reason(i, [], [], r2, proba([0.1, 0.2], 1), TH) == "the model ranks it benign or another class"
    assert misses.reason(i, [], [], rows([], []), np.zeros((0, 5)), TH) == "not scored"


def test_explain_counts_only_missed_multi_peer_instances(tmp_path):
    d = tmp_path / "r0"
    d.mkdir()
    pd.DataFrame({"label": ["origin_hijack"] * 2 + ["route_leak"] * 2, "attacker_asn": [666, 666, 5, 5],
                  "prefix": ["10.0.0.0/24"] * 2 + ["10.2.0.0/24"] * 2, "gated": [1, 1, 1, 1],
                  "peer_asn": [1, 2, 1, 2], "suspect_asn": [666, 666, 7, 7], "p": [0.9, 0.9, 0.9, 0.9]}).to_csv(d / "rows.csv", index=False)
    (d / "vetoed.jsonl").write_text("")
    instances = [inst(i=1), inst(i=2, prefixes=("10.1.0.0/24",)), inst(i=3, peers=1, prefixes=("10.3.0.0/24",)),
                 inst("route_leak", att=5, prefixes=("10.2.0.0/24",), i=4), inst(att=1000, i=5)]
    res = ee.RunResult("bg", 0, 1, [], instances)
    res.detected = {2: "ORIGIN_HIJACK"}

    def predict(df):
        k = 1 if df["label"].iloc[0] == "origin_hijack" else 4
        return proba(df["p"].to_numpy(), k)

    out = misses.explain([res], lambda a: "train" if a == 1000 else "test", "test", {("bg", 0): d}, predict, TH)
    # 1: weak (0.9 < 0.99); 2: detected; 3: one peer; 4: flagged naming AS7; 5: another split.
    assert out["origin_hijack"]["missed"] == 1
    assert out["origin_hijack"]["reasons"]["weak evidence only"]["count"] == 1
    assert out["route_leak"]["reasons"]["flagged, another suspect named, alerted"]["examples"] == ["bg#0 4 s (AS7)"]
    md = misses.markdown(out)
    assert "| origin_hijack | 1 | 1 weak evidence only |" in md
    assert "| route_leak | 1 | 1 flagged, another suspect named, alerted |" in md
