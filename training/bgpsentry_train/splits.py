"""Train/valid/test splits by background AND by attacker AS.

Every background belongs to one split (pipeline.json). An attack row (label
other than benign) goes to its background's split only when its attacker AS
hashes into that split's bucket:

    bucket = int(sha256(decimal ASN).hexdigest(), 16) % modulus

(by default 0-6 train, 7 valid, 8-9 test). Attack rows whose bucket belongs
to another split are dropped, and counted. So no attacker AS, and no
background, is seen in two splits: the test set measures attacks by unseen
ASes on unseen traffic. Benign rows, look-alikes included, follow their
background.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import CLASS_NAMES, SPLITS, ASBuckets


def as_bucket(asn: str | int, modulus: int) -> int:
    """The bucket of an AS number (decimal text, so "65001" and 65001 agree)."""
    s = str(asn).strip()
    if s.upper().startswith("AS"):
        s = s[2:]
    return int(hashlib.sha256(str(int(s)).encode()).hexdigest(), 16) % modulus


@dataclass
class SplitResult:
    split: pd.Series  # per row: "train", "valid", "test" or "" (dropped)
    dropped_bucket: int = 0  # attack rows whose attacker bucket is another split's
    dropped_no_attacker: int = 0  # attack rows without an attacker_asn
    dropped_by_background: dict = field(default_factory=dict)

    def counts(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows per split and label (dropped rows excluded)."""
        kept = self.split != ""
        t = pd.crosstab(self.split[kept], df.loc[kept, "label"]).reindex(index=list(SPLITS), columns=list(CLASS_NAMES), fill_value=0)
        t.index.name, t.columns.name = None, None
        return t


def assign(df: pd.DataFrame, bg_split: dict[str, str], buckets: ASBuckets) -> SplitResult:
    """Assigns every row a split (or "" when it is dropped)."""
    missing = sorted(set(df["background"]) - set(bg_split))
    if missing:
        raise ValueError(f"rows of backgrounds without a split: {missing}")
    split = df["background"].map(bg_split).astype(object)
    attack = (df["label"] != "benign").to_numpy()
    att = df["attacker_asn"].astype(str).str.strip().to_numpy()
    cache: dict[str, str] = {}
    as_split = np.empty(len(df), dtype=object)
    for i in np.flatnonzero(attack):
        a = att[i]
        if a not in cache:
            try:
                cache[a] = buckets.split_of(as_bucket(a, buckets.modulus))
            except ValueError:
                cache[a] = ""  # empty or not a number
        as_split[i] = cache[a]
    res = SplitResult(split=split)
    no_att = attack & (as_split == "")
    wrong = attack & ~no_att & (as_split != split.to_numpy())
    drop = no_att | wrong
    res.dropped_no_attacker = int(no_att.sum())
    res.dropped_bucket = int(wrong.sum())
    if drop.any():
        res.dropped_by_background = df.loc[drop, "background"].value_counts().sort_index().to_dict()
    s = split.to_numpy().copy()
    s[drop] = ""
    res.split = pd.Series(s, index=df.index, dtype=object)
    return res


def check_disjoint(df: pd.DataFrame, split: pd.Series) -> list[str]:
    """Problems: attacker ASes or backgrounds found in two splits (want none)."""
    problems = []
    kept = split != ""
    attack = kept & (df["label"] != "benign")
    by_as = pd.Series(split[attack].to_numpy(), index=df.loc[attack, "attacker_asn"].to_numpy()).groupby(level=0).nunique()
    for asn, n in by_as.items():
        if n > 1:
            problems.append(f"attacker AS {asn} in {n} splits")
    by_bg = pd.Series(split[kept].to_numpy(), index=df.loc[kept, "background"].to_numpy()).groupby(level=0).nunique()
    for bg, n in by_bg.items():
        if n > 1:
            problems.append(f"background {bg} in {n} splits")
    return problems
