"""Matching alert events to injected instances (events_eval)."""

from bgpsentry_train import events_eval as ee
from bgpsentry_train.config import ASBuckets, Targets
from bgpsentry_train.splits import as_bucket

BUCKETS = ASBuckets(modulus=10, train=(0, 1, 2, 3, 4, 5), valid=(6, 7), test=(8, 9))


def asn_in(split: str, start: int = 64500) -> int:
    """An ASN whose bucket belongs to split."""
    a = start
    while BUCKETS.split_of(as_bucket(a, BUCKETS.modulus)) != split:
        a += 1
    return a


def inst(i, cls, scenario, attacker, prefixes, t0=1000, peers=2):
    return {"id": i, "class": cls, "scenario": scenario, "attacker_asn": attacker, "prefixes": prefixes,
            "start_unix": t0, "end_unix": t0 + 30,
            "peers": [{"addr": f"192.0.2.{p}", "first_unix": t0 + p, "last_unix": t0 + p, "path": f"{p} {attacker}"} for p in range(1, peers + 1)]}


def event(typ, prefix, suspect, t, paths, prefixes=None):
    ts = f"1970-01-01T{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}Z"
    return {"type": typ, "prefix": prefix, "suspect_asn": suspect, "first_seen": ts, "sample_paths": paths,
            "prefixes": prefixes or [prefix], "peer_count": 2}


def test_match_and_summary():
    att = asn_in("test")
    other = asn_in("train")
    leaker = asn_in("test", att + 1)
    instances = [
        inst(1, "origin_hijack", "exact_origin", att, ["10.0.0.0/24"]),
        inst(2, "subprefix_hijack", "subprefix_origin", other, ["10.1.0.0/24"]),   # other split
        inst(3, "route_leak", "leak_type1_hairpin", leaker, [f"10.2.{i}.0/24" for i in range(20)]),
        inst(4, "benign", "provider_origin", 3356, ["10.3.0.0/24"]),
        inst(5, "path_hijack", "forged_origin_exact", att, ["10.4.0.0/24"], peers=1),  # missed, 1 peer
    ]
    events = [
        event("ORIGIN_HIJACK", "10.0.0.0/24", att, 1010, [f"1 {att}"]),                 # true
        event("SUBPREFIX_HIJACK", "10.1.0.0/24", other, 1010, [f"1 {other}"]),         # other split
        event("ROUTE_LEAK", "10.2.3.0/24", leaker, 1012, [f"1 {leaker} 7 9"], [f"10.2.{i}.0/24" for i in range(12)]),  # true
        event("ORIGIN_HIJACK", "10.3.0.0/24", 3356, 1015, ["1 3356"]),                  # false on a look-alike
        event("ORIGIN_HIJACK", "10.9.0.0/24", 4200000000, 1015, ["1 4200000000"]),      # false on the background
        event("ROUTE_LEAK", "10.2.5.0/24", 174, 1015, [f"1 174 {leaker} 9"]),          # wrong suspect for instance 3
        event("ORIGIN_HIJACK", "10.0.0.0/24", att, 9000, [f"1 {att}"]),                 # too late: background
    ]
    res = ee.RunResult("bg", 0, 2_000_000, events, instances)
    ee.match(res, BUCKETS, "test")
    assert res.verdicts == ["true", "other_split", "true", "false_lookalike:provider_origin", "false_background",
                            "wrong", "false_background"]
    assert res.detected == {1: "ORIGIN_HIJACK", 3: "ROUTE_LEAK"}
    s = ee.summarize([res], BUCKETS, "test")
    oh = s["classes"]["origin_hijack"]
    assert (oh["instances"], oh["detected"], oh["true_events"], oh["false_events"]) == (1, 1, 1, 3)
    assert oh["precision"] == 0.25
    assert s["classes"]["subprefix_hijack"]["instances"] == 0  # its attacker is not in the test bucket
    ph = s["classes"]["path_hijack"]
    assert (ph["instances"], ph["instances_2peers"], ph["recall"]) == (1, 0, 0.0)
    rl = s["classes"]["route_leak"]
    assert (rl["true_events"], rl["wrong_events"], rl["precision"]) == (1, 1, 0.5)
    assert s["lookalikes"]["alerted"] == 1 and s["lookalikes"]["instances"] == 1
    assert s["backgrounds"]["bg"]["false_events"] == 2
    assert s["backgrounds"]["bg"]["false_per_million"] == 1.0
    md = ee.markdown(s, Targets())
    assert "| origin_hijack | 1 | 1.000 |" in md and "| bg | 1 | 2,000,000 | 2 | 1.0 |" in md


def test_control_run_takes_background_events_off_lookalikes():
    """An event the stream raises without its injection (the control run)
    is a background false alert, not one on the look-alike that shares its
    prefix and a peer's ASN; one the control run lacks stays on the
    look-alike."""
    peer = 64496
    instances = [inst(1, "benign", "session_reset", peer, ["10.5.0.0/24", "10.6.0.0/24"])]
    leak = event("ROUTE_LEAK", "10.5.0.0/24", 3549, 1010, [f"{peer} 3549 9"], ["10.5.0.0/24", "10.7.0.0/24"])
    caused = event("PATH_HIJACK", "10.6.0.0/24", 65550, 1010, [f"{peer} 65550 9"])
    twin = dict(leak, first_seen=event("ROUTE_LEAK", "10.7.0.0/24", 3549, 1070, [])["first_seen"], prefix="10.7.0.0/24",
                prefixes=["10.7.0.0/24"])
    far = dict(caused, first_seen=event("PATH_HIJACK", "10.6.0.0/24", 65550, 1500, [])["first_seen"])
    res = ee.RunResult("bg", 0, 1_000_000, [leak, caused], instances, control=[twin, far])
    ee.match(res, BUCKETS, "test")
    assert res.verdicts == ["false_background", "false_lookalike:session_reset"]
    s = ee.summarize([res], BUCKETS, "test")
    assert s["lookalikes"]["alerted"] == 1
    assert s["backgrounds"]["bg"]["false_events"] == 1
    res.control = []
    ee.match(res, BUCKETS, "test")
    assert res.verdicts == ["false_lookalike:session_reset", "false_lookalike:session_reset"]
