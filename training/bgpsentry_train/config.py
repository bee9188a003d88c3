"""The pipeline configuration (training/pipeline.json), read into typed values.

Paths in the file are relative to the repository root (data lives beside the
repository, as ../shared/data/...), so the same file works on every machine
that has the shared data next to its checkout. Absolute paths are accepted
too (tests use them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

CLASS_NAMES = (
    "benign",
    "origin_hijack",
    "subprefix_hijack",
    "path_hijack",
    "route_leak",
)
ATTACK_CLASSES = CLASS_NAMES[1:]
# Alert event types (proto AlertType) -> class names.
TYPE_CLASS = {
    "ORIGIN_HIJACK": "origin_hijack",
    "SUBPREFIX_HIJACK": "subprefix_hijack",
    "PATH_HIJACK": "path_hijack",
    "ROUTE_LEAK": "route_leak",
    "BOGON_ORIGIN": "bogon_origin",
}
SPLITS = ("train", "valid", "test")


class ConfigError(ValueError):
    """The configuration file is not what the pipeline expects."""


@dataclass(frozen=True)
class Background:
    """One real update stream that attacks are injected into."""

    name: str
    files: tuple[str, ...]
    split: str
    warmup: str = "1m"
    baseline: tuple[str, ...] = ()
    per_class: int = 200
    # Injections (inject runs with their own seed) into this background;
    # the injector fits only so many instances into one background.
    repeats: int = 1
    # Fraction of unlabelled (benign) rows featurize keeps; metrics weight
    # kept rows by its inverse so alert rates stay per real row.
    benign_rate: float = 1.0
    # inject --start-after (empty: the injector's default, 40% of the
    # background's time range); keep it >= warmup so attacks are scored.
    start_after: str = ""
    # At most this many rows per labelled (label, scenario) are kept, the
    # rest stand in through weights (0: all). Leak waves and session resets
    # make tens of thousands of rows per background otherwise.
    max_rows_per_scenario: int = 3000
    # featurize with the relationship file (true) or with relationships
    # inferred from the background's own paths (false), as `bgpsentry score`
    # does when no --asrel is given: the model must know both.
    featurize_asrel: bool = True
    note: str = ""


@dataclass(frozen=True)
class ASBuckets:
    """Attacker AS buckets: bucket = sha256(decimal ASN) mod modulus."""

    modulus: int = 10
    train: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    valid: tuple[int, ...] = (7,)
    test: tuple[int, ...] = (8, 9)

    def split_of(self, bucket: int) -> str:
        for s in SPLITS:
            if bucket in getattr(self, s):
                return s
        raise ConfigError(f"as_buckets: bucket {bucket} belongs to no split")


@dataclass(frozen=True)
class TrainParams:
    num_leaves: int = 31
    max_rounds: int = 200
    learning_rate: float = 0.1
    early_stopping_rounds: int = 30
    min_data_in_leaf: int = 20
    feature_fraction: float = 1.0
    lambda_l2: float = 1.0
    num_threads: int = 1
    # Weight of a benign look-alike row relative to an ordinary benign row
    # (before class balancing): look-alikes are the hard negatives.
    lookalike_weight: float = 5.0
    # Cap of a class weight relative to benign (keeps a class with very few
    # rows from dominating).
    max_class_weight: float = 1000.0
    # LightGBM's seed (None: the configuration's seed, which also drives
    # the injection); pipeline --lgb-seed overrides it.
    seed: int | None = None
    # Why these values (shown in the report; not a LightGBM parameter).
    note: str = ""


@dataclass(frozen=True)
class Targets:
    precision: float = 0.95
    recall: float = 0.95
    lookalike_alert_rate: float = 0.01
    threshold_min: float = 0.3
    threshold_max: float = 0.99
    # Per-class floors of the exported thresholds, from the event level
    # (python -m bgpsentry_train.operating --split valid): the lowest
    # floor at which the class's alert *events* on the validation streams
    # reach the precision target. Row precision misses the false-alarm
    # tail of real traffic; events on the streams' real backgrounds do not.
    event_floors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    backgrounds: tuple[Background, ...]
    asrel: str
    asorg: str = ""
    seed: int = 1
    as_buckets: ASBuckets = field(default_factory=ASBuckets)
    train: TrainParams = field(default_factory=TrainParams)
    targets: Targets = field(default_factory=Targets)
    parity_rows: int = 1200
    source: str = ""  # the file it was read from

    def resolve(self, p: str) -> Path:
        """A path of the file, relative to the repository root."""
        return (REPO_ROOT / p) if not Path(p).is_absolute() else Path(p)


def _tuple(v) -> tuple:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    return tuple(v)


def _known(d: dict, cls, where: str) -> dict:
    allowed = set(cls.__dataclass_fields__)
    extra = set(d) - allowed
    if extra:
        raise ConfigError(f"{where}: unknown keys {sorted(extra)} (known: {sorted(allowed)})")
    return d


def parse(obj: dict, source: str = "") -> Config:
    obj = {k: v for k, v in obj.items() if not k.startswith("_")}  # "_comment" keys
    bgs = []
    for i, b in enumerate(obj.get("backgrounds") or []):
        b = {k: v for k, v in b.items() if not k.startswith("_")}
        _known(b, Background, f"backgrounds[{i}]")
        for req in ("name", "files", "split"):
            if req not in b:
                raise ConfigError(f"backgrounds[{i}]: missing {req!r}")
        if b["split"] not in SPLITS:
            raise ConfigError(f"backgrounds[{i}] {b['name']}: split {b['split']!r}, want one of {SPLITS}")
        b["files"] = _tuple(b["files"])
        b["baseline"] = _tuple(b.get("baseline"))
        if not b["files"]:
            raise ConfigError(f"backgrounds[{i}] {b['name']}: no files")
        if int(b.get("repeats", 1)) < 1:
            raise ConfigError(f"backgrounds[{i}] {b['name']}: repeats must be >= 1")
        if not 0 < float(b.get("benign_rate", 1.0)) <= 1:
            raise ConfigError(f"backgrounds[{i}] {b['name']}: benign_rate must be in (0, 1]")
        bgs.append(Background(**b))
    if not bgs:
        raise ConfigError("no backgrounds")
    names = [b.name for b in bgs]
    if len(set(names)) != len(names):
        raise ConfigError(f"background names repeat: {names}")
    if "asrel" not in obj:
        raise ConfigError("missing 'asrel'")
    kw = dict(obj)
    kw["backgrounds"] = tuple(bgs)
    if "as_buckets" in kw:
        ab = _known(dict(kw["as_buckets"]), ASBuckets, "as_buckets")
        kw["as_buckets"] = ASBuckets(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in ab.items()})
        every = sorted(x for s in SPLITS for x in getattr(kw["as_buckets"], s))
        if every != list(range(kw["as_buckets"].modulus)):
            raise ConfigError(f"as_buckets: every bucket 0..modulus-1 must belong to exactly one split, got {every}")
    if "train" in kw:
        kw["train"] = TrainParams(**_known(dict(kw["train"]), TrainParams, "train"))
    if "targets" in kw:
        t = _known({k: v for k, v in kw["targets"].items() if not k.startswith("_")}, Targets, "targets")
        floors = t.get("event_floors") or {}
        for c, v in floors.items():
            if c not in ATTACK_CLASSES:
                raise ConfigError(f"targets.event_floors: unknown class {c!r}")
            if not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise ConfigError(f"targets.event_floors.{c}: {v!r} is not a probability in (0, 1]")
        kw["targets"] = Targets(**t)
    _known(kw, Config, "config")
    return Config(source=source, **kw)


def load(path: Path) -> Config:
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    return parse(obj, str(path))


def add_run_args(ap, realdata: bool = False) -> None:
    """The arguments of the commands that score with a built binary after
    the training pipeline: --config, --realdata (when realdata), --bin and
    --out (the pipeline's work directory)."""
    ap.add_argument("--config", type=Path, default=Path("training/pipeline.json"))
    if realdata:
        ap.add_argument("--realdata", type=Path, default=Path("training/realdata.json"))
    ap.add_argument("--bin", type=Path, default=Path("dist/bgpsentry"))
    ap.add_argument("--out", type=Path, default=Path("training/out"), help="the training pipeline's work directory")


def event_time(s: str) -> float:
    """Unix seconds of an RFC 3339 time of score's events (first_seen,
    last_seen: Z or an offset, any fraction of a second); ValueError when
    s is none."""
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
