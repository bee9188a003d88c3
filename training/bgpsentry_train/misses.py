"""Why injected attacks raised no event: one reason per missed instance.

events_eval matches alert events to injected instances; this module looks
at the instances of the evaluated split that no event detected and were
announced by at least two peers (an event needs two), and says where each
was lost, from the end of the pipeline backwards:

1. *named as another class*: an event names the attacker on the
   instance's prefixes, but of another type;
2. *vetoed: NAME*: the event layer vetoed the verdicts that name the
   attacker (`score --vetoed`; the veto that hit most);
3. *flagged, another suspect named*: the model flags the instance's rows
   (probability over the class threshold) on two peers or more, but their
   verdicts name another AS (for a leak, the valley under the run's
   relationships is elsewhere, or there is none and the origin is named);
   then either vetoed (which veto) or alerted under that AS (an event
   events_eval counts wrong or false); the AS of most rows is given;
4. *flagged on two peers, never together*: flagged on two peers or more
   naming the attacker, yet no event (the peers carried it at different
   times, beyond `--memory`, or the alert fell short of another opening
   condition such as `--min-leak-prefixes`);
5. *flagged on one peer*;
6. *weak evidence only*: the class ranks first but below its threshold,
   and too few peers agree for weak evidence to open an alert;
7. *the model ranks it benign or another class*;
8. *not scored*: the serving gate let none of its rows through.

The rows and their probabilities come from the featurize rows of the same
stream and the model (LightGBM in Python, which the parity test ties to the
Go inference).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .config import ATTACK_CLASSES, CLASS_NAMES, TYPE_CLASS


# The order reasons are listed in.
ORDER = ["named as another class", "vetoed", "flagged, another suspect named", "flagged on two peers, never together",
         "flagged on one peer", "weak evidence only", "the model ranks it benign or another class", "not scored"]


def instance_prefixes(inst: dict) -> set[str]:
    return set(inst.get("prefixes", [])) | ({inst["victim_prefix"]} if inst.get("victim_prefix") else set())


def reason(inst: dict, events: list[dict], vetoed: list[dict], rows: pd.DataFrame, proba: np.ndarray,
           thresholds: dict[str, float]) -> str:
    """Why inst (not detected) raised no event. rows are its featurize rows
    (gated ones), proba their class probabilities (columns in CLASS_NAMES
    order)."""
    cls, att = inst["class"], int(inst["attacker_asn"])
    pf = instance_prefixes(inst)
    for e in events:
        if int(e.get("suspect_asn", 0)) == att and pf & (set(e.get("prefixes") or []) | {e.get("prefix")}):
            if TYPE_CLASS.get(e["type"]) != cls:
                return "named as another class"
    v = Counter(x["veto"] for x in vetoed
                if x.get("class") == cls and int(x.get("suspect_asn", 0)) == att and x.get("prefix") in pf)
    if v:
        return "vetoed: " + v.most_common(1)[0][0]
    if len(rows) == 0:
        return "not scored"
    ci = CLASS_NAMES.index(cls)
    p = proba[:, ci]
    strong = rows[p >= thresholds[cls]]
    weak = rows[(proba.argmax(axis=1) == ci) & (p < thresholds[cls])]
    if strong["peer_asn"].nunique() >= 2:
        top = int(strong["suspect_asn"].value_counts().index[0])
        if top != att:
            # Their verdicts name another AS: vetoed there, or an event of
            # that AS (counted wrong or false by events_eval).
            v = Counter(x["veto"] for x in vetoed
                        if x.get("class") == cls and int(x.get("suspect_asn", 0)) == top and x.get("prefix") in pf)
            if v:
                return f"flagged, another suspect named, vetoed: {v.most_common(1)[0][0]} (AS{top})"
            return f"flagged, another suspect named, alerted (AS{top})"
        return "flagged on two peers, never together"
    if len(strong):
        return "flagged on one peer"
    if len(weak):
        return "weak evidence only"
    return "the model ranks it benign or another class"


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def explain(results, split_of: Callable[[int], str], split: str, job_dirs: dict[tuple[str, int], Path],
            predict: Callable[[pd.DataFrame], np.ndarray], thresholds: dict[str, float], min_peers: int = 2) -> dict:
    """Per attack class: the count of missed instances (>= min_peers
    peers, attacker in split) by reason, with up to three examples each.
    job_dirs maps (background, repeat) to the stream's directory (rows.csv,
    vetoed.jsonl); predict gives the class probabilities of rows."""
    out: dict[str, dict] = {c: {"missed": 0, "reasons": {}} for c in ATTACK_CLASSES}
    for res in results:
        d = job_dirs[(res.background, res.repeat)]
        vetoed = _jsonl(d / "vetoed.jsonl")
        rows = None
        for inst in res.instances:
            cls = inst["class"]
            if cls not in ATTACK_CLASSES or split_of(int(inst["attacker_asn"])) != split:
                continue
            if len({p["addr"] for p in inst.get("peers", [])}) < min_peers or inst["id"] in res.detected:
                continue
            if rows is None:
                f = d / "rows.csv"
                rows = pd.read_csv(f, low_memory=False) if f.exists() else pd.DataFrame(
                    columns=["label", "attacker_asn", "prefix", "gated", "peer_asn", "suspect_asn"])
            r = rows[(rows["label"] == cls) & (rows["attacker_asn"] == inst["attacker_asn"]) &
                     rows["prefix"].isin(instance_prefixes(inst)) & (rows["gated"] == 1)]
            proba = predict(r) if len(r) else np.zeros((0, len(CLASS_NAMES)))
            why = reason(inst, res.events, vetoed, r, proba, thresholds)
            key = why.split(" (AS")[0]
            pc = out[cls]
            pc["missed"] += 1
            slot = pc["reasons"].setdefault(key, {"count": 0, "examples": []})
            slot["count"] += 1
            if len(slot["examples"]) < 3:
                slot["examples"].append(f"{res.background}#{res.repeat} {inst['id']} {inst.get('scenario', '')}"
                                        + (why[len(key):] if why != key else ""))
    return out


def markdown(missed: dict) -> str:
    lines = ["## Why attacks are missed", "",
             "Every attack instance of this split announced by at least two peers that no event detected, "
             "with the first place it was lost (training/bgpsentry_train/misses.py lists the reasons in order; "
             "`score --vetoed` gives the vetoes):", "",
             "| class | missed | reasons |", "|---|---|---|"]

    def rank(k: str) -> int:
        for i, o in enumerate(ORDER):
            if k.startswith(o):
                return i
        return len(ORDER)

    for c, pc in missed.items():
        rs = sorted(pc["reasons"].items(), key=lambda kv: (-kv[1]["count"], rank(kv[0])))
        txt = "; ".join(f"{v['count']} {k}" for k, v in rs) or "-"
        lines.append(f"| {c} | {pc['missed']} | {txt} |")
    return "\n".join(lines) + "\n"
