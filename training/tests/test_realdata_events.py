"""The first-look rules of the real-data event listing."""

import json

from bgpsentry_train import realdata_events as rde


def ev(i, typ, prefix, suspect, **kw):
    return {"id": f"id{i}", "type": typ, "prefix": prefix, "suspect_asn": suspect, "state": "OPEN", **kw}


def test_first_look_rules():
    yt = ev(1, "ORIGIN_HIJACK", "208.65.153.0/24", 17557)
    assert rde.first_look(yt, False, True).startswith("true: Pakistan Telecom")
    assert rde.first_look(ev(2, "BOGON_ORIGIN", "103.109.236.0/24", 65551), False, False) == "true: bogon origin"
    hij = ev(3, "ORIGIN_HIJACK", "190.93.184.0/22", 269932)
    assert rde.first_look(hij, False, True) == "likely false: baseline-dependent"
    assert rde.first_look(hij, True, True) == "unverified"  # also without the baseline
    assert rde.first_look(hij, False, False) == "unverified"  # the baseline predates the data
    assert rde.first_look(ev(4, "ROUTE_LEAK", "1.0.0.0/24", 3356), False, False).startswith("likely false")
    assert rde.first_look(ev(5, "ROUTE_LEAK", "1.0.0.0/24", 64600), False, False).startswith("unverified")
    beacon = ev(6, "PATH_HIJACK", "84.205.66.0/24", 39351, sample_paths=["199524 174 39351 12654"])
    assert rde.first_look(beacon, False, False) == "false: RIS beacon"
    beacon6 = ev(7, "PATH_HIJACK", "2001:7fb:ff02::/48", 3320, sample_paths=["135895 6939 3320 12654"])
    assert rde.first_look(beacon6, False, False) == "false: RIS beacon"
    # The beacon prefix from another origin is no beacon.
    assert rde.first_look(dict(beacon, sample_paths=["199524 174 39351"]), False, False) == "unverified"


def test_listing(tmp_path):
    base, nob = tmp_path / "base", tmp_path / "nob"
    base.mkdir()
    nob.mkdir()
    (base / "summary.json").write_text(json.dumps({"runs": [{"name": "r1", "slug": "r1", "baseline": ["b.dat"]}]}))
    events = [ev(1, "ORIGIN_HIJACK", "10.0.0.0/8", 1), dict(ev(1, "ORIGIN_HIJACK", "10.0.0.0/8", 1), state="RESOLVED"),
              ev(2, "BOGON_ORIGIN", "11.0.0.0/8", 65000)]
    (base / "r1.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (nob / "r1.jsonl").write_text(json.dumps(ev(9, "ORIGIN_HIJACK", "10.0.0.0/8", 1)) + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"runs": [{"name": "r1", "files": [], "baseline": ["b.dat"], "baseline_after_data": True}]}))
    out = tmp_path / "events.md"
    assert rde.main(["--with-baseline", str(base), "--warmup-only", str(nob), "--config", str(cfg), "--out", str(out)]) == 0
    text = out.read_text()
    assert "2 events; baseline made after the data." in text  # one line per alert (its last state)
    assert "| ORIGIN_HIJACK | 10.0.0.0/8 | 1 |" in text and "unverified" in text  # the warm-up-only run has it too
    assert "- true: 1" in text and "- unverified: 1" in text
