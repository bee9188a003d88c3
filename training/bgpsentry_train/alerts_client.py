"""A Python client of the bgpsentry alert service (bgpsentry.v1.AlertService).

The Python stubs are not committed: `load_stubs` generates them from the
repository's proto/ with grpc_tools.protoc (the pinned grpcio-tools of
training/requirements.txt) into a cache directory keyed by the hash of the
.proto files and the grpcio-tools version, so they always match the protos
the Go server was built from.

    with AlertsClient("127.0.0.1:50051") as c:
        print(c.model_info().feature_schema_version)
        for ev in c.subscribe(prefixes=["208.65.153.0/24"], since=0, timeout=30):
            print(c.alert_pb.AlertState.Name(ev.state), ev.prefix, ev.suspect_asn)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.resources
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import grpc

PROTO_PACKAGE = "bgpsentry/v1"
PROTO_FILES = ("alert.proto", "service.proto", "update.proto")
CURSOR_HEADER = "bgpsentry-cursor"


def default_proto_root() -> Path:
    """proto/ of the repository this module sits in (training/bgpsentry_train/..)."""
    return Path(__file__).resolve().parents[2] / "proto"


@dataclass(frozen=True)
class Stubs:
    """The generated modules: alert (alert_pb2: AlertEvent, AlertType,
    AlertState), service (service_pb2: the request and response messages)
    and grpc (service_pb2_grpc: AlertServiceStub)."""

    alert: ModuleType
    service: ModuleType
    grpc: ModuleType


_loaded: dict[str, Stubs] = {}


def _stub_key(proto_root: Path) -> str:
    h = hashlib.sha256()
    h.update(importlib.metadata.version("grpcio-tools").encode())
    for name in PROTO_FILES:
        h.update(name.encode())
        h.update((proto_root / PROTO_PACKAGE / name).read_bytes())
    return h.hexdigest()[:16]


def generate_stubs(proto_root: Path, out: Path) -> None:
    """Runs grpc_tools.protoc on the bgpsentry protos, writing
    bgpsentry/v1/*_pb2.py and service_pb2_grpc.py under out."""
    from grpc_tools import protoc

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *(f"{PROTO_PACKAGE}/{name}" for name in PROTO_FILES),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {proto_root}: {' '.join(args)}")


def load_stubs(proto_root: Path | None = None, cache_dir: Path | None = None) -> Stubs:
    """Generates (once per cache key) and imports the Python stubs.

    cache_dir defaults to $BGPSENTRY_PYSTUBS_CACHE or a directory in the
    system temp dir. A process can load the stubs of one proto tree only:
    the generated modules register their files in protobuf's default pool
    under fixed names."""
    proto_root = Path(proto_root) if proto_root else default_proto_root()
    key = _stub_key(proto_root)
    if key in _loaded:
        return _loaded[key]
    if _loaded:
        raise RuntimeError("stubs of another proto tree are already loaded in this process")
    if cache_dir is None:
        cache_dir = Path(os.environ.get("BGPSENTRY_PYSTUBS_CACHE") or Path(tempfile.gettempdir()) / "bgpsentry-pystubs")
    target = Path(cache_dir) / key
    if not (target / PROTO_PACKAGE / "service_pb2_grpc.py").is_file():
        # Generate beside the target and rename it into place, so that a
        # concurrent run never imports a half-written tree.
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=cache_dir))
        try:
            generate_stubs(proto_root, tmp)
            try:
                os.rename(tmp, target)
            except OSError:
                if not (target / PROTO_PACKAGE / "service_pb2_grpc.py").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.path.insert(0, str(target))
    try:
        alert = importlib.import_module("bgpsentry.v1.alert_pb2")
        service = importlib.import_module("bgpsentry.v1.service_pb2")
        service_grpc = importlib.import_module("bgpsentry.v1.service_pb2_grpc")
    finally:
        sys.path.remove(str(target))
    stubs = Stubs(alert=alert, service=service, grpc=service_grpc)
    _loaded[key] = stubs
    return stubs


class AlertsClient:
    """A plaintext client of one bgpsentry gRPC server (bgpsentry serves
    plaintext on loopback only). token, when set, is sent as a bearer token."""

    def __init__(self, target: str, token: str | None = None, stubs: Stubs | None = None):
        self.stubs = stubs or load_stubs()
        self.alert_pb = self.stubs.alert
        self.pb = self.stubs.service
        self._channel = grpc.insecure_channel(target)
        # The raw AlertServiceStub, for calls the helpers below do not cover.
        self.stub = self.stubs.grpc.AlertServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        # The "bgpsentry-cursor" header of the last Subscribe stream.
        self.last_cursor: int | None = None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> AlertsClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait_ready(self, timeout: float) -> None:
        """Blocks until the channel connects; grpc.FutureTimeoutError after timeout."""
        grpc.channel_ready_future(self._channel).result(timeout=timeout)

    def filter(
        self,
        types: Sequence[int] = (),
        prefixes: Sequence[str] = (),
        covering_prefixes: Sequence[str] = (),
        asns: Sequence[int] = (),
        min_confidence: float = 0.0,
    ):
        return self.pb.AlertFilter(
            types=list(types),
            prefixes=list(prefixes),
            covering_prefixes=list(covering_prefixes),
            asns=list(asns),
            min_confidence=min_confidence,
        )

    def model_info(self, timeout: float = 10.0):
        """The server's ModelInfo."""
        return self.stub.GetModelInfo(self.pb.GetModelInfoRequest(), timeout=timeout, metadata=self._metadata).model

    def list_alerts(self, since: int | None = None, page_size: int = 0, timeout: float = 10.0, **filt) -> tuple[list, int]:
        """Every kept event that passes the filter (all pages), oldest
        first, and the latest sequence published (the cursor to subscribe
        after). filt: the keyword arguments of filter()."""
        events: list = []
        token = ""
        while True:
            req = self.pb.ListAlertsRequest(filter=self.filter(**filt), page_size=page_size, page_token=token)
            if since is not None:
                req.since = since
            resp = self.stub.ListAlerts(req, timeout=timeout, metadata=self._metadata)
            events.extend(resp.events)
            token = resp.next_page_token
            if not token:
                return events, resp.latest_sequence

    def subscribe(self, since: int | None = None, timeout: float | None = None, **filt) -> Iterator:
        """Yields the AlertEvents that pass the filter: those kept after
        `since` (0: from the oldest kept), then the live ones; since None:
        only live ones. The stream ends with grpc.RpcError (DEADLINE_EXCEEDED
        after timeout seconds, or CANCELLED when the server's own reset at the
        deadline arrives first, UNAVAILABLE when the server shuts down, ...);
        closing the generator cancels it. last_cursor is set from the
        stream's "bgpsentry-cursor" header once it arrives."""
        req = self.pb.SubscribeRequest(filter=self.filter(**filt))
        if since is not None:
            req.since = since
        call = self.stub.Subscribe(req, timeout=timeout, metadata=self._metadata)
        try:
            self.last_cursor = None
            for key, value in call.initial_metadata() or ():
                if key == CURSOR_HEADER:
                    self.last_cursor = int(value)
            yield from call
        finally:
            call.cancel()
