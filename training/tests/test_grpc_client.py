"""The gRPC alert service from Python: bgpsentry_train.alerts_client (stubs
generated from proto/ by grpcio-tools at run time) against a real
`bgpsentry serve` built from this repository.

The server replays the real 2008 YouTube hijack: one RouteViews update file
(18:39-18:54 UTC; Pakistan Telecom, AS17557, announced YouTube's
208.65.153.0/24 at 18:47:57) on top of the 2008-05 pyasn baseline, from
../shared/data beside the repository. The warm-up is cut to 5 minutes
because the default 15 would cover the hijack in a file that starts at
18:39. The server keeps running after the replay (no --exit-after-replay),
as in production, so the subscriptions read the kept history and then wait
for live events.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from bgpsentry_train import alerts_client

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
UPDATES = SHARED / "mrt" / "routeviews2-2008-youtube-hijack" / "updates.20080224.1839.bz2"
BASELINE = SHARED / "baseline" / "pyasn" / "ipasn_20080501_v12.dat.gz"

VICTIM = "208.65.153.0/24"
HIJACKER = 17557  # Pakistan Telecom
YOUTUBE = 36561
UNRELATED = "192.0.2.0/24"  # TEST-NET-1: never announced, so never alerted

BUILD_TIMEOUT = 300
START_TIMEOUT = 60
EVENTS_TIMEOUT = 60
CALL_TIMEOUT = 20
QUIET_WINDOW = 1.5
STOP_TIMEOUT = 20


def wait_for_addr(proc: subprocess.Popen, log: Path, timeout: float) -> str:
    """The gRPC address from serve's log line 'msg="gRPC alert service"
    addr=HOST:PORT' (the server listens on port 0: the kernel picks a free
    one, so no port can be taken in between)."""
    pat = re.compile(r'msg="gRPC alert service" addr=(\S+)')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pat.search(log.read_text(errors="replace"))
        if m:
            return m.group(1)
        if proc.poll() is not None:
            pytest.fail(f"bgpsentry serve exited with {proc.returncode} before serving gRPC:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    pytest.fail(f"bgpsentry serve did not log its gRPC address within {timeout} s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    for p in (UPDATES, BASELINE):
        if not p.exists():
            pytest.skip(f"{p} is missing (../shared/data is not beside the repository): the real YouTube 2008 replay cannot run")
    go = shutil.which("go")
    if go is None:
        pytest.skip("no 'go' on PATH: cannot build bgpsentry for the gRPC client test")
    tmp = tmp_path_factory.mktemp("grpc")
    binary = tmp / "bgpsentry"
    build = subprocess.run(
        [go, "build", "-o", str(binary), "./cmd/bgpsentry"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert build.returncode == 0, f"go build failed:\n{build.stderr}"
    stdout, stderr = tmp / "events.jsonl", tmp / "serve.log"
    cmd = [
        str(binary), "serve",
        "--bgp.listen", "",
        "--grpc.listen", "127.0.0.1:0",
        "--baseline", str(BASELINE),
        "--replay", str(UPDATES),
        "--warmup", "5m",
    ]  # fmt: skip
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    try:
        addr = wait_for_addr(proc, stderr, START_TIMEOUT)
        stubs = alerts_client.load_stubs(cache_dir=tmp / "stubs")
        with alerts_client.AlertsClient(addr, stubs=stubs) as client:
            client.wait_ready(CALL_TIMEOUT)
            yield proc, client, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def wait_for_hijack(client) -> list:
    """Polls ListAlerts until the replay has published the hijack's OPEN
    event; returns the victim prefix's events."""
    deadline = time.monotonic() + EVENTS_TIMEOUT
    while True:
        events, _ = client.list_alerts(prefixes=[VICTIM], timeout=CALL_TIMEOUT)
        if any(e.state == client.alert_pb.OPEN for e in events):
            return events
        assert time.monotonic() < deadline, f"no OPEN event for {VICTIM} within {EVENTS_TIMEOUT} s: {events}"
        time.sleep(0.1)


def test_model_info(server):
    _, client, _ = server
    info = client.model_info(timeout=CALL_TIMEOUT)
    assert info.feature_schema_version > 0
    assert len(info.feature_names) > 0 and all(info.feature_names)
    assert "benign" in info.class_names and "origin_hijack" in info.class_names
    assert info.source and info.format_version and info.lightgbm_version
    assert info.trees > 0


def test_subscribe_victim_prefix(server):
    _, client, _ = server
    listed = wait_for_hijack(client)
    pb = client.alert_pb
    got = []
    for ev in client.subscribe(since=0, prefixes=[VICTIM], timeout=CALL_TIMEOUT):
        got.append(ev)
        if ev.state == pb.OPEN and ev.prefix == VICTIM:
            break
    assert client.last_cursor == 0  # the stream starts after since=0
    opened = got[-1]
    assert opened.state == pb.OPEN, got
    assert pb.AlertType.Name(opened.type) == "ORIGIN_HIJACK"
    assert opened.prefix == VICTIM
    assert opened.suspect_asn == HIJACKER
    assert opened.origin_asn == HIJACKER
    assert YOUTUBE in opened.expected_origins
    assert opened.first_seen.ToJsonString() == "2008-02-24T18:47:57Z"
    assert opened.id and opened.sequence > 0 and opened.peer_count >= 2
    # The filter held, and the stream is the listed history, in order.
    for ev in got:
        assert VICTIM in {ev.prefix, ev.expected_prefix, *ev.prefixes}, ev
    seqs = [e.sequence for e in got]
    assert seqs == sorted(set(seqs))
    assert [(e.id, e.sequence) for e in got] == [(e.id, e.sequence) for e in listed[: len(got)]]


def test_subscribe_unrelated_prefix_gets_nothing(server):
    _, client, _ = server
    wait_for_hijack(client)
    every, latest = client.list_alerts(timeout=CALL_TIMEOUT)
    # The hijack (at least) is listed: an event the filter must leave out.
    assert len(every) >= 1 and latest >= every[-1].sequence
    assert client.list_alerts(prefixes=[UNRELATED], timeout=CALL_TIMEOUT)[0] == []
    # The quiet window is ended by the client's own cancel, not by a
    # deadline: gRPC servers track the deadline too and reset the stream
    # with RST_STREAM CANCEL when it passes, which races with the client's
    # timer (the client then sees CANCELLED or DEADLINE_EXCEEDED by luck).
    req = client.pb.SubscribeRequest(filter=client.filter(prefixes=[UNRELATED]), since=0)
    # The deadline is only a guard against a hang, far beyond the window.
    call = client.stub.Subscribe(req, timeout=CALL_TIMEOUT)
    assert dict(call.initial_metadata())[alerts_client.CURSOR_HEADER] == "0"
    timer = threading.Timer(QUIET_WINDOW, call.cancel)
    got = []
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(grpc.RpcError) as err:
            for ev in call:
                got.append(ev)
    finally:
        timer.cancel()
    # Ended by our cancel after the whole window, with nothing on it.
    assert err.value.code() == grpc.StatusCode.CANCELLED, err.value
    assert time.monotonic() - start >= QUIET_WINDOW
    assert got == []


def test_sigterm_exits_cleanly(server):
    proc, client, log = server
    _, latest = client.list_alerts(timeout=CALL_TIMEOUT)
    # A live subscription open at shutdown ends with UNAVAILABLE, not a hang.
    req = client.pb.SubscribeRequest(filter=client.filter(), since=latest)
    call = client.stub.Subscribe(req, timeout=CALL_TIMEOUT)
    assert dict(call.initial_metadata())[alerts_client.CURSOR_HEADER] == str(latest)
    os.kill(proc.pid, signal.SIGTERM)
    with pytest.raises(grpc.RpcError) as err:
        for ev in call:
            # The replay goes on until the signal lands: live events after
            # the cursor are fine, nothing at or before it.
            assert ev.sequence > latest, ev
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value
    assert proc.wait(timeout=STOP_TIMEOUT) == 0, log.read_text(errors="replace")
    assert 'msg=stopped' in log.read_text(errors="replace")
