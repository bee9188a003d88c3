"""operating: the flags of an operating point and the rows it reports."""

import json
from pathlib import Path

import pytest

from bgpsentry_train import operating

TH = {"origin_hijack": 0.99, "subprefix_hijack": 0.99, "path_hijack": 0.9896, "route_leak": 0.7327}


def test_level_flags():
    assert operating.level_flags("model", TH) == []
    assert operating.level_flags("mp3", TH) == ["--min-peers", "3"]
    f = operating.level_flags("0.995", TH)
    pairs = dict(f[i + 1].split("=") for i in range(0, len(f), 2))
    assert all(f[i] == "--threshold" for i in range(0, len(f), 2))
    assert {k: float(v) for k, v in pairs.items()} == {c: 0.995 for c in operating.CLASSES}
    # A floor under a class's own threshold keeps the model's.
    pairs = dict(x.split("=") for x in operating.level_flags("0.95", TH)[1::2])
    assert float(pairs["route_leak"]) == 0.95 and float(pairs["origin_hijack"]) == 0.99
    for bad in ("0", "1.5", "high"):
        with pytest.raises(ValueError):
            operating.level_flags(bad, TH)


def test_precision_without_events_is_undefined():
    synth = {"classes": {c: {"recall_2peers": 0.0, "precision": 0.0, "events": 0} for c in operating.CLASSES}}
    rows = operating.point("0.999", synth, [], 1)
    assert all(r["precision"] != r["precision"] for r in rows)  # NaN
    meta = {"thresholds": TH, "real_elements": 1, "levels": ["0.999"],
            "totals": {"0.999": {"events": 0, "per_million": 0.0, "youtube": False}}}
    assert "| 0.999 | route_leak | 0.000 | - | 0 | 0.0 |" in operating.markdown(rows, meta)


def test_point_counts_real_events_by_type():
    synth = {"classes": {c: {"recall_2peers": 0.5, "precision": 0.8} for c in operating.CLASSES}}
    real = [{"by_type": {"ROUTE_LEAK": 3, "BOGON_ORIGIN": 1}}, {"by_type": {"ROUTE_LEAK": 1, "PATH_HIJACK": 2}}]
    rows = {r["class"]: r for r in operating.point("0.99", synth, real, 2_000_000)}
    assert rows["route_leak"]["real_events"] == 4 and rows["route_leak"]["real_per_million"] == 2.0
    assert rows["path_hijack"]["real_events"] == 2 and rows["origin_hijack"]["real_events"] == 0
    assert rows["subprefix_hijack"]["recall"] == 0.5 and rows["subprefix_hijack"]["level"] == "0.99"


def test_youtube_found(tmp_path: Path):
    f = tmp_path / "youtube-2008.jsonl"
    f.write_text(json.dumps({"prefix": "208.65.153.0/24", "suspect_asn": 3491}) + "\n")
    assert not operating.youtube_found(tmp_path)
    f.write_text(f.read_text() + json.dumps({"prefix": "208.65.153.0/24", "suspect_asn": 17557}) + "\n")
    assert operating.youtube_found(tmp_path)


def test_markdown_and_plot(tmp_path: Path):
    synth = {"classes": {c: {"recall_2peers": 0.9, "precision": 0.7} for c in operating.CLASSES}}
    rows = operating.point("model", synth, [{"by_type": {"PATH_HIJACK": 5}}], 1_000_000)
    rows += operating.point("0.999", synth, [{"by_type": {"PATH_HIJACK": 1}}], 1_000_000)
    meta = {"thresholds": TH, "real_elements": 1_000_000, "levels": ["model", "0.999"],
            "totals": {"model": {"events": 5, "per_million": 5.0, "youtube": True},
                       "0.999": {"events": 1, "per_million": 1.0, "youtube": False}}}
    md = operating.markdown(rows, meta)
    assert "| 0.999 | path_hijack | 0.900 | 0.700 | 1 | 1.0 |" in md
    assert "| 0.999 | 1 | 1.0 | **no** |" in md
    png = tmp_path / "op.png"
    operating.plot(rows, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_choose_lowest_floor_reaching_precision():
    def rows(level, prec):
        return [{"level": level, "class": c, "recall": 0.5, "precision": prec.get(c, 0.5),
                 "real_events": 0, "real_per_million": 0.0} for c in operating.CLASSES]
    nan = float("nan")
    rs = (rows("model", {"subprefix_hijack": 0.96}) + rows("0.99", {"path_hijack": 0.9, "route_leak": 0.97})
          + rows("0.98", {"route_leak": 0.975}) + rows("0.995", {"path_hijack": 1.0, "origin_hijack": nan})
          + rows("mp3", {"origin_hijack": 1.0}))
    # sub-prefix: the model reaches it (no floor); origin: no threshold point
    # does (NaN: no event; mp3 is not a threshold); leak: 0.98 before 0.99.
    assert operating.choose(rs, 0.95) == {"path_hijack": 0.995, "route_leak": 0.98}
    # A floor that keeps less than half the recall of the model's point is
    # not taken: path's first precise point keeps 0.2 of 0.5.
    for r in rs:
        if r["class"] == "path_hijack" and r["level"] == "0.995":
            r["recall"] = 0.2
    assert operating.choose(rs, 0.95) == {"route_leak": 0.98}
