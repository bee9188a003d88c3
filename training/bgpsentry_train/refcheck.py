"""A second opinion on real-data events from reference data the runs did
not use: a CAIDA-style relationship file (serial-1 ``a|b|rel``, here
TopoScope's of 2018-06) and CAIDA's as-org file.

The real-data runs infer relationships from their own minutes of updates
(Gao's heuristic), so a route-leak event's valley, a path-hijack event's
"new" link or a hijack's unrelated origin may only be what the inference
got wrong. This module asks the reference instead:

- route leak: is there a valley *at the suspect* in the event's sample
  paths (the suspect learned the route from a provider or a peer and
  passed it to a provider or a peer)?
- path hijack: is the origin-adjacent link a known relationship?
- origin or sub-prefix hijack: are the suspect and an expected origin
  neighbours (any relationship) or one organisation?

The reference is of another date than most runs (2018 against data of
2007-2026): relationships change, so the answer is a hint for the first
look, written as such, not a verdict.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

P2C, C2P, P2P, S2S = "p2c", "c2p", "p2p", "s2s"


class Reference:
    def __init__(self, rels: dict[tuple[int, int], str] | None = None, orgs: dict[int, str] | None = None,
                 name: str = "reference"):
        self.rels = rels or {}
        self.orgs = orgs or {}
        self.name = name

    def rel(self, a: int, b: int) -> str | None:
        """a's relationship to b: P2C (a is b's provider), C2P, P2P, S2S, or None."""
        if a != b and a in self.orgs and self.orgs.get(a) == self.orgs.get(b):
            return S2S
        return self.rels.get((a, b))


def load_asrel(path: Path) -> dict[tuple[int, int], str]:
    """A serial-1/serial-2 file: ``a|b|-1`` (a is b's provider), ``a|b|0``
    (peers), ``a|b|1`` (siblings in some files); comments start with #."""
    out: dict[tuple[int, int], str] = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split("|")
            if len(parts) < 3:
                raise ValueError(f"{path}:{n}: want a|b|rel, got {line!r}")
            a, b, r = int(parts[0]), int(parts[1]), int(parts[2])
            if r == -1:
                out[(a, b)], out[(b, a)] = P2C, C2P
            elif r == 0:
                out[(a, b)] = out[(b, a)] = P2P
            elif r == 1:
                out[(a, b)] = out[(b, a)] = S2S
            else:
                raise ValueError(f"{path}:{n}: unknown relationship {r}")
    return out


def load_asorg(path: Path) -> dict[int, str]:
    """ASN -> organisation id from CAIDA's as-org2info JSONL (records of
    type ASN)."""
    out: dict[int, str] = {}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get("type") == "ASN" and "asn" in r and r.get("organizationId"):
                out[int(r["asn"])] = r["organizationId"]
    return out


def load(asrel: Path | None, asorg: Path | None) -> Reference:
    name = ", ".join(p.name for p in (asrel, asorg) if p is not None) or "none"
    return Reference(load_asrel(asrel) if asrel else {}, load_asorg(asorg) if asorg else {}, name)


def _asns(path: str) -> list[int]:
    """The path's ASNs, prepending collapsed; AS_SET members dropped."""
    out: list[int] = []
    for tok in path.replace("{", " { ").replace("}", " } ").split():
        if tok in ("{", "}") or "," in tok:
            continue
        try:
            a = int(tok)
        except ValueError:
            continue
        if not out or out[-1] != a:
            out.append(a)
    return out


def valley_at(path: str, suspect: int, ref: Reference) -> str:
    """Whether the suspect is a leaker in this path under ref: "valley"
    (it learned the route from a provider or peer and passed it to a
    provider or peer), "no valley", or "unknown" (a link the reference
    does not have, or the suspect not in the middle of the path). Paths
    read left to right from the collector's peer to the origin, so the
    suspect learned from its right neighbour and passed to its left."""
    p = _asns(path)
    if suspect not in p:
        return "unknown"
    i = p.index(suspect)
    if i == 0 or i == len(p) - 1:
        return "unknown"
    to, frm = p[i - 1], p[i + 1]
    r_from, r_to = ref.rel(suspect, frm), ref.rel(suspect, to)
    if r_from is None or r_to is None:
        return "unknown"
    if S2S in (r_from, r_to):
        return "no valley"
    if r_from in (C2P, P2P) and r_to in (C2P, P2P):
        return "valley"
    return "no valley"


def leak_opinion(e: dict, ref: Reference) -> str:
    """"valley" when a sample path has one at the suspect, "no valley"
    when every sample path is known and none has, else "unknown"."""
    looks = [valley_at(p, int(e.get("suspect_asn", 0)), ref) for p in e.get("sample_paths") or []]
    if "valley" in looks:
        return "valley"
    if looks and all(x == "no valley" for x in looks):
        return "no valley"
    return "unknown"


def link_opinion(e: dict, ref: Reference) -> str | None:
    """The reference's relationship of a path hijack's origin-adjacent link
    in the first sample path (neighbour to origin), or None."""
    for p in e.get("sample_paths") or []:
        a = _asns(p)
        if len(a) >= 2:
            return ref.rel(a[-2], a[-1])
    return None


def related_opinion(e: dict, ref: Reference) -> str | None:
    """The reference's relationship of a hijack's suspect to an expected
    origin (siblings first), or None."""
    s = int(e.get("suspect_asn", 0))
    rels = [ref.rel(s, int(x)) for x in e.get("expected_origins") or []]
    for want in (S2S, P2C, C2P, P2P):
        if want in rels:
            return want
    return None
