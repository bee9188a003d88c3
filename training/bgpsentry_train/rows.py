"""Training rows: run `bgpsentry inject` and `bgpsentry featurize` per
background (cached behind a stamp file), then read the row CSVs.

A background's outputs live in OUT/backgrounds/NAME/:

  COLLECTOR/     inject's output: injected.mrt, labels.csv, vrps.json,
                 scenarios.json (the directory is named after the collector
                 of the background files, as the MRT reader guesses it, so
                 the injected routes come from the background's peers)
  rows.csv       featurize output (feature columns, then META_COLUMNS)
  inject.log, featurize.log   the commands' standard error
  stamp.json     the key of the inputs the outputs were made from

The key covers the bgpsentry binary (sha256), every input file (sha256), the
background's configuration, asrel/asorg, and the derived seed; when it is
unchanged and the outputs exist, the commands are not run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import CLASS_NAMES, REPO_ROOT, Background, Config

META_COLUMNS = (
    "label",
    "gated",
    "scenario",
    "attacker_asn",
    "background",
    "time",
    "peer_asn",
    "prefix",
    "origin_asn",
    "suspect_asn",
    "path",
)
STRING_COLUMNS = ("label", "scenario", "attacker_asn", "background", "prefix", "path")
INJECT_FILES = ("injected.mrt", "labels.csv", "vrps.json", "scenarios.json")

STAMP_VERSION = 1


class RowsError(RuntimeError):
    pass


_hash_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


def background_seed(seed: int, name: str) -> int:
    """A seed per background that does not move when the list is reordered."""
    d = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(d[:4], "big") & 0x7FFFFFFF


def display(p: Path) -> str:
    """A path as the repository sees it (relative to the root when possible)."""
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        rel = Path(p).resolve()
        try:
            return str(Path("..") / rel.relative_to(REPO_ROOT.parent))
        except ValueError:
            return str(p)


_COLLECTOR_RE = re.compile(r"^(?:routeviews\.)?(rrc\d\d|route-views[\w.-]*?)(\.(updates|rib|bview)\b|$)")
_ARCHIVE_DIR_RE = re.compile(r"^(\d{4}\.\d{2}|UPDATES|RIBS|bgpdata)$")


def collector_name(path: str) -> str:
    """The collector the MRT reader (bgpfeed/mrt.CollectorName) names a file
    after: a RIS/RouteViews name in the file or a directory name, else the
    directory holding the file (skipping archive date/kind directories)."""
    parts = os.path.normpath(path).replace(os.sep, "/").split("/")
    for part in reversed(parts):
        m = _COLLECTOR_RE.match(part)
        if m:
            return m.group(1)
    if len(parts) >= 2 and parts[-2] not in (".", "..", ""):
        for d in reversed(parts[:-1]):
            if d in ("", ".", ".."):
                break
            if _ARCHIVE_DIR_RE.match(d):
                continue
            return d
    return os.path.basename(path)


def inject_dir(cfg: Config, bg: Background, d: Path) -> Path:
    want = collector_name(str(cfg.resolve(bg.files[0])))
    inj = d / want
    got = collector_name(str(inj / "injected.mrt"))
    if got != want:
        raise RowsError(f"background {bg.name}: the MRT reader would name {inj / 'injected.mrt'} collector {got!r}, not {want!r} like the background files; rename the background or the output directory")
    return inj


@dataclass
class BackgroundRun:
    background: Background
    dir: Path
    rows_path: Path
    cached: bool
    seconds: float
    inject_summary: str
    featurize_summary: str


def _commands(cfg: Config, bg: Background, binary: Path, d: Path) -> tuple[list[str] | None, list[str]]:
    asrel = str(cfg.resolve(cfg.asrel))
    asorg = str(cfg.resolve(cfg.asorg)) if cfg.asorg else ""
    files = [str(cfg.resolve(f)) for f in bg.files]
    inj = inject_dir(cfg, bg, d)
    inject = None
    if bg.per_class > 0:
        inject = [str(binary), "inject"]
        for f in files:
            inject += ["--background", f]
        for b in bg.baseline:
            inject += ["--baseline", str(cfg.resolve(b))]
        inject += ["--asrel", asrel]
        if asorg:
            inject += ["--asorg", asorg]
        if bg.start_after:
            inject += ["--start-after", bg.start_after]
        inject += ["--out", str(inj), "--seed", str(background_seed(cfg.seed, bg.name)), "--per-class", str(bg.per_class)]
    feat = [str(binary), "featurize", "--asrel", asrel]
    if asorg:
        feat += ["--asorg", asorg]
    if inject is not None:
        feat += ["--rpki", str(inj / "vrps.json"), "--labels", str(inj / "labels.csv")]
    feat += ["--warmup", bg.warmup]
    for b in bg.baseline:
        feat += ["--baseline", str(cfg.resolve(b))]
    if bg.benign_rate < 1:
        feat += ["--benign-rate", repr(bg.benign_rate)]
    feat += ["--background", bg.name, "-o", str(d / "rows.csv")]
    feat += files
    if inject is not None:
        feat.append(str(inj / "injected.mrt"))
    return inject, feat


def stamp_key(cfg: Config, bg: Background, binary: Path) -> str:
    inputs = [cfg.resolve(f) for f in bg.files] + [cfg.resolve(b) for b in bg.baseline] + [cfg.resolve(cfg.asrel)]
    if cfg.asorg:
        inputs.append(cfg.resolve(cfg.asorg))
    for p in inputs:
        if not p.is_file():
            raise RowsError(f"background {bg.name}: input {display(p)} not found")
    key = {
        "stamp_version": STAMP_VERSION,
        "binary_sha256": file_sha256(binary),
        "background": asdict(bg) | {"note": ""},
        "seed": background_seed(cfg.seed, bg.name),
        "inputs": {display(p): file_sha256(p) for p in inputs},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _run(cmd: list[str], log: Path) -> str:
    with log.open("w") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO_ROOT)
    text = log.read_text()
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RowsError(f"{cmd[1]} exited {proc.returncode} (log {log}):\n{tail}")
    return text


def _summary(log_text: str, prefix: str) -> str:
    lines = [l for l in log_text.splitlines() if l.startswith(prefix)]
    return lines[-1] if lines else ""


def build_background(cfg: Config, bg: Background, binary: Path, out: Path, log=print) -> BackgroundRun:
    d = out / "backgrounds" / bg.name
    d.mkdir(parents=True, exist_ok=True)
    key = stamp_key(cfg, bg, binary)
    stamp = d / "stamp.json"
    inject, feat = _commands(cfg, bg, binary, d)
    inj = inject_dir(cfg, bg, d)
    want = [d / "rows.csv"] + ([inj / f for f in INJECT_FILES] if inject else [])
    if stamp.is_file() and all(p.is_file() for p in want):
        try:
            old = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("key") == key:
            return BackgroundRun(bg, d, d / "rows.csv", True, 0.0, old.get("inject", ""), old.get("featurize", ""))
    stamp.unlink(missing_ok=True)
    t0 = time.monotonic()
    inj_sum = ""
    if inject:
        inj.mkdir(exist_ok=True)
        log(f"  inject {bg.name}: per_class={bg.per_class}")
        text = _run(inject, d / "inject.log")
        inj_sum = _summary(text, "inject") or (text.strip().splitlines() or [""])[-1]
        for f in INJECT_FILES:
            if not (inj / f).is_file():
                raise RowsError(f"inject {bg.name}: no {f} in {inj}")
    log(f"  featurize {bg.name}")
    text = _run(feat, d / "featurize.log")
    feat_sum = _summary(text, "featurize:")
    secs = time.monotonic() - t0
    stamp.write_text(json.dumps({"key": key, "inject": inj_sum, "featurize": feat_sum, "seconds": secs}, indent=1) + "\n")
    return BackgroundRun(bg, d, d / "rows.csv", False, secs, inj_sum, feat_sum)


def read_rows(path: Path, benign_rate: float = 1.0) -> tuple[pd.DataFrame, list[str]]:
    """Reads one featurize CSV. Returns the frame and its feature names (the
    columns before `label`, in model order). Floats are parsed round-trip
    exactly (pandas 3 parses shortest round-trip text to the same float64)."""
    with path.open() as f:
        header = f.readline().rstrip("\r\n").split(",")
    if "label" not in header:
        raise RowsError(f"{path}: no label column in the header")
    k = header.index("label")
    names, meta = header[:k], header[k:]
    if tuple(meta) != META_COLUMNS:
        raise RowsError(f"{path}: columns after the features are {meta}, want {list(META_COLUMNS)}")
    dtypes = {c: np.float64 for c in names} | {c: str for c in STRING_COLUMNS}
    dtypes |= {"gated": np.int64, "time": np.int64, "peer_asn": np.int64, "origin_asn": np.int64, "suspect_asn": np.int64}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={c: ["NaN", "nan"] for c in names})
    for c in STRING_COLUMNS:
        df[c] = df[c].fillna("").astype(str)
    bad = sorted(set(df["label"]) - set(CLASS_NAMES))
    if bad:
        raise RowsError(f"{path}: unknown labels {bad}")
    # Weight of a row in rates and precision: unlabelled benign rows were
    # sampled at benign_rate, so each stands for 1/benign_rate rows.
    w = np.ones(len(df))
    w[((df["label"] == "benign") & (df["scenario"] == "")).to_numpy()] = 1.0 / benign_rate
    df["weight"] = w
    return df, names


def load_all(runs: list[BackgroundRun]) -> tuple[pd.DataFrame, list[str]]:
    frames, names = [], None
    for r in runs:
        df, n = read_rows(r.rows_path, r.background.benign_rate)
        if names is None:
            names = n
        elif n != names:
            raise RowsError(f"{r.rows_path}: feature columns differ from the other backgrounds'")
        # The background column is the configured name (featurize --background);
        # force it so that a stale file cannot mislabel rows.
        df["background"] = r.background.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True), names or []


def fingerprint(paths: list[Path]) -> str:
    """sha256 over the row files, in order (each: name, length, bytes)."""
    h = hashlib.sha256()
    for p in paths:
        data = p.read_bytes()
        h.update(f"{p.parent.name}/{p.name}\n{len(data)}\n".encode())
        h.update(data)
    return "sha256:" + h.hexdigest()


_SCHEMA_RE = re.compile(r"^\s*const\s+SchemaVersion\s*=\s*(\d+)", re.M)


def schema(binary: Path | None, names_go: Path = REPO_ROOT / "features" / "names.go") -> tuple[int, list[str] | None, str]:
    """The live feature schema version (and names when the binary says):
    `bgpsentry featurize --schema` when the flag exists, else the constant in
    features/names.go. Returns (version, names or None, where from)."""
    if binary is not None:
        try:
            p = subprocess.run([str(binary), "featurize", "--schema"], capture_output=True, text=True, timeout=60)
            if p.returncode == 0 and p.stdout.strip().startswith("{"):
                obj = json.loads(p.stdout)
                return int(obj["schema_version"]), list(obj.get("feature_names") or []) or None, "bgpsentry featurize --schema"
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass
    m = _SCHEMA_RE.search(names_go.read_text())
    if not m:
        raise RowsError(f"{names_go}: no 'const SchemaVersion = N'")
    return int(m.group(1)), None, display(names_go)


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
