"""Build a dub dataset in the Hub's layout, in parallel, atomically and resumably.

Layout of ``out`` (what ``push_to_hub`` publishes and ``load_dataset(out, config)`` reads)::

    README.md                                  card: YAML configs/features/splits + how it was made
    dub.json                                   each config's Spec and plan, to redo it exactly
    data/<config>/<split>-NNNNN-of-NNNNN.parquet

Work is cut into *units*, one Parquet file each (EXAMPLES_PER_FILE rows); ``num_proc`` processes
share the units, and ``--shard I --num-shards N`` keeps every N-th unit, so N machines write
disjoint files of the same dataset, merged by copying them into one folder. ``--splits`` writes
only the splits named (the same examples a whole build would write there: indices and draws follow
the whole plan) into a folder that already holds the others, e.g. a training split made with wider
augmentation than its validation and test splits; dub.json records each split's own Spec. Units are written
into ``.dub-staging/<config>-<plan hash>/`` (each file written, then renamed); a rerun of an
interrupted build skips finished units. A complete build replaces ``data/<config>`` in one rename.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .constants import EXAMPLES_PER_FILE, ROW_GROUP_SIZE, SPLIT_FRACTIONS, SPLITS
from .fileio import atomic_write_text
from .sources import Maker, Spec, make_maker

STAGING = ".dub-staging"


@dataclass(frozen=True)
class Unit:
    split: str
    file_index: int
    num_files: int
    start: int  # first example index in the split
    stop: int

    @property
    def filename(self) -> str:
        return f"{self.split}-{self.file_index:05d}-of-{self.num_files:05d}.parquet"


def split_sizes(num_examples: int, fractions=SPLIT_FRACTIONS) -> dict[str, int]:
    if num_examples < 1:
        raise ValueError(f"--num-examples must be at least 1, got {num_examples}")
    val, test = (round(num_examples * f) for f in fractions[1:])
    return {"train": num_examples - val - test, "validation": val, "test": test}


def plan_units(sizes: dict[str, int], examples_per_file: int = EXAMPLES_PER_FILE) -> list[Unit]:
    units = []
    for split in SPLITS:
        n = sizes.get(split, 0)
        k = math.ceil(n / examples_per_file)
        for i in range(k):
            units.append(Unit(split, i, k, i * examples_per_file, min(n, (i + 1) * examples_per_file)))
    return units


def plan_hash(spec: Spec, sizes: dict[str, int], examples_per_file: int, splits: tuple[str, ...] = SPLITS) -> str:
    plan = {"spec": spec.to_dict(), "sizes": sizes, "per_file": examples_per_file}
    if tuple(splits) != SPLITS:  # a partial build stages apart from a whole one (same hash as before for whole builds)
        plan["splits"] = list(splits)
    blob = json.dumps(plan, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


# -- worker side -----------------------------------------------------------------------------
_maker: Maker | None = None


def _init_worker(spec_dict: dict) -> None:
    global _maker
    _maker = make_maker(Spec.from_dict(spec_dict))


class StopFlag:
    """SIGINT handler that only records the signal: a KeyboardInterrupt raised inside a C
    callback (soundfile's, FluidSynth's) is swallowed there, so the writer checks this flag
    between examples instead."""

    def __init__(self):
        self.set = False

    def __call__(self, signum, frame):
        self.set = True


def write_unit(maker: Maker, unit: Unit, folder: Path, stop: StopFlag | None = None) -> int:
    """Make one unit's rows and write its Parquet file atomically. Returns the row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    final = folder / unit.filename
    if final.exists():
        return 0  # finished by an earlier, interrupted run of the same plan
    schema = maker.features().arrow_schema
    maker.reset()
    tmp = folder / f".{unit.filename}.{os.getpid()}.tmp"
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for lo in range(unit.start, unit.stop, ROW_GROUP_SIZE):
            rows = []
            for i in range(lo, min(unit.stop, lo + ROW_GROUP_SIZE)):
                if stop is not None and stop.set:
                    raise KeyboardInterrupt
                rows.append(maker.make(unit.split, i))
            writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=ROW_GROUP_SIZE)
    os.replace(tmp, final)
    return unit.stop - unit.start


def _run_unit(args) -> int:
    unit, folder = args
    return write_unit(_maker, unit, Path(folder))


# -- driver side -----------------------------------------------------------------------------
def generate(spec: Spec, num_examples: int, out: str | os.PathLike, num_proc: int = 1,
             shard: int = 0, num_shards: int = 1, examples_per_file: int = EXAMPLES_PER_FILE,
             progress: bool = True, splits: tuple[str, ...] | None = None) -> Path:
    """Write ``num_examples`` examples of ``spec.config`` into ``out`` (see module docstring).

    ``splits``: write only these splits (default: all); the others already in ``out`` are kept."""
    from tqdm.auto import tqdm

    if not 0 <= shard < num_shards:
        raise ValueError(f"--shard must be in [0, {num_shards}), got {shard}")
    if num_proc < 1:
        raise ValueError(f"--num-proc must be at least 1, got {num_proc}")
    unknown = sorted(set(splits) - set(SPLITS)) if splits is not None else []
    splits = SPLITS if splits is None else tuple(s for s in SPLITS if s in splits)
    if unknown or not splits:
        raise ValueError(f"--splits: choose from {', '.join(SPLITS)}" + (f", not {', '.join(unknown)}" if unknown else ""))
    partial = splits != SPLITS
    out = Path(out)
    sizes = split_sizes(num_examples)
    if partial:
        meta_path = out / "dub.json"
        record = json.loads(meta_path.read_text()).get(spec.config) if meta_path.is_file() else None
        if record is None or record["split_sizes"] != sizes:
            raise ValueError(f"--splits: {out}'s {spec.config} config was not written with --num-examples "
                             f"{num_examples} (its split sizes: {record and record['split_sizes']}); "
                             "give the same --num-examples as its whole build, so the same examples are drawn")
    maker = make_maker(spec)  # validates SoundFonts/folders before any work starts
    for split, n in sizes.items():
        if split in splits and n and not maker.sources_in(split):
            raise ValueError(f"split {split!r} would have {n} examples but no source instrument "
                             f"(split rule: {maker.split_rule}): give more SoundFonts or sample files")
    units = [u for u in plan_units(sizes, examples_per_file) if u.split in splits]
    mine = [u for k, u in enumerate(units) if k % num_shards == shard]
    digest = plan_hash(spec, sizes, examples_per_file, splits)
    staging = out / STAGING / f"{spec.config}-{digest}"
    staging.mkdir(parents=True, exist_ok=True)
    for stale in staging.glob(".*.tmp"):  # half-written files of an interrupted run
        stale.unlink()
    todo = [u for u in mine if not (staging / u.filename).exists()]
    bar = tqdm(total=sum(u.stop - u.start for u in mine), initial=sum(u.stop - u.start for u in mine if u not in todo),
               desc=f"dub generate {spec.config}", unit="ex", disable=not progress)
    if num_proc == 1 or len(todo) <= 1:
        stop = StopFlag()
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, stop) if in_main else None
        try:
            for u in todo:
                bar.update(write_unit(maker, u, staging, stop))
        finally:
            if in_main:
                signal.signal(signal.SIGINT, previous)
    else:
        # One BLAS thread per worker: the workers are the parallelism (set before they import numpy).
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        # spawn: FluidSynth and torch threads do not survive fork. A worker that dies raises
        # BrokenProcessPool here instead of being respawned forever.
        with ProcessPoolExecutor(min(num_proc, len(todo)), mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(spec.to_dict(),)) as pool:
            for n in pool.map(_run_unit, [(u, str(staging)) for u in todo]):
                bar.update(n)
    bar.close()

    target = out / "data" / spec.config
    target.parent.mkdir(parents=True, exist_ok=True)
    if num_shards == 1 and not partial:
        old = out / STAGING / f"{spec.config}-replaced"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        target.mkdir(exist_ok=True)
        wanted = {u.filename for u in units}
        for f in target.glob("*.parquet"):
            if f.name not in wanted and f.name.split("-")[0] in splits:  # an earlier plan's file counts
                f.unlink()
        for u in mine:
            os.replace(staging / u.filename, target / u.filename)
        shutil.rmtree(staging, ignore_errors=True)
    _record(out, maker, sizes, digest, examples_per_file, num_shards, splits)
    staging_root = out / STAGING
    if staging_root.exists() and not any(staging_root.iterdir()):
        staging_root.rmdir()
    return out


def _record(out: Path, maker: Maker, sizes, digest, examples_per_file, num_shards, splits=SPLITS) -> None:
    from . import __version__
    from .card import dataset_card

    meta_path = out / "dub.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    fonts = [{"name": f.name, "file": Path(f.path).name, "license": f.license} for f in getattr(maker, "fonts", [])]
    kits = [{"name": k.name, "folder": Path(k.path).name, "kind": k.kind, "split": maker.kit_split[k.path],
             "license": k.license} for k in getattr(maker, "drumkits", [])]
    if tuple(splits) != SPLITS:
        # Keep the whole build's record; note the Spec these splits were written with, where it differs,
        # and the sources they drew from now (a kit installed since is listed, with its licence).
        record = meta[maker.spec.config]  # generate() checked it is there, with these split sizes
        described = maker.describe()
        for s in splits:
            record["sources"][s] = described[s]
        for key, now in (("soundfonts", fonts), ("drumkits", kits)):
            listed = {d["name"] for d in record.get(key, [])}
            if any(d["name"] not in listed for d in now):
                record[key] = record.get(key, []) + [d for d in now if d["name"] not in listed]
        own = maker.spec.to_dict()
        for s in splits:
            record.setdefault("split_specs", {})[s] = own
            if own == record["spec"]:
                del record["split_specs"][s]
        if not record.get("split_specs"):
            record.pop("split_specs", None)
        atomic_write_text(meta_path, json.dumps(meta, indent=1))
        atomic_write_text(out / "README.md", dataset_card(meta))
        return
    meta[maker.spec.config] = {
        "spec": maker.spec.to_dict(), "split_sizes": sizes, "plan_hash": digest,
        "examples_per_file": examples_per_file, "num_shards": num_shards, "split_rule": maker.split_rule,
        "sources": maker.describe(), "dub_version": __version__,
        "soundfonts": fonts, "drumkits": kits,
        "features": maker.features().to_dict(),
    }
    for attr in ("shared_keys", "shared_presets"):  # drums: kit keys; notes: melodic presets
        shared = {}
        for path, *_ in getattr(maker, attr, ()):
            shared[Path(path).stem] = shared.get(Path(path).stem, 0) + 1
        if shared:
            meta[maker.spec.config][f"{attr}_left_out"] = dict(sorted(shared.items()))
    atomic_write_text(meta_path, json.dumps(meta, indent=1))
    atomic_write_text(out / "README.md", dataset_card(meta))


def push_to_hub(out: str | os.PathLike, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Publish the folder exactly as written (Parquet shards, card, dub.json) to a dataset repo."""
    from huggingface_hub import HfApi

    out = Path(out)
    if not (out / "README.md").exists():
        raise ValueError(f"{out}: not a dub dataset folder (no README.md card); run dub generate first")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(out), repo_id=repo_id, repo_type="dataset",
                                 ignore_patterns=[f"{STAGING}/*", ".*"],
                                 commit_message="dub generate")
    except Exception as e:
        raise RuntimeError(f"push to the Hub dataset repo {repo_id!r} failed: {e}") from e
    return str(getattr(info, "commit_url", info))


# -- streaming -------------------------------------------------------------------------------
def _stream_rows(spec_dict: dict, blocks: list[tuple[str, int, int]]):
    maker = make_maker(Spec.from_dict(spec_dict))
    for split, start, stop in blocks:
        maker.reset()
        for i in range(start, stop):
            yield maker.make(split, i)


def iterable_dataset(spec: Spec, split: str = "train", num_examples: int = 10**7, block: int = 256):
    """The generator as a ``datasets.IterableDataset``: fresh examples on the fly, nothing stored.

    Blocks of example indices are the shards, so DataLoader workers (or ``split_dataset_by_node``)
    share them without overlap. Change ``spec.seed`` for a new draw of every example (per epoch).
    """
    from datasets import IterableDataset

    maker = make_maker(spec)
    if not maker.sources_in(split):
        raise ValueError(f"split {split!r} has no source instrument (split rule: {maker.split_rule})")
    blocks = [(split, lo, min(num_examples, lo + block)) for lo in range(0, num_examples, block)]
    return IterableDataset.from_generator(
        _stream_rows, features=maker.features(), gen_kwargs={"spec_dict": spec.to_dict(), "blocks": blocks})


def load_dub_dataset(dataset: str, config: str, split: str | None = None):
    """``load_dataset(dataset, config[, split])`` that never serves a stale copy of a local folder.

    ``datasets`` caches a folder's Arrow conversion under a key that does not follow its files: after
    ``dub generate`` rewrote ``data/<config>`` in the same folder (another seed, more examples, a fix),
    ``load_dataset(folder, config)`` went on returning the *previous* rows. For a local dub folder this
    reads its Parquet files through the ``parquet`` builder, whose cache key includes each file's
    modification time, with the features stored in the files; a Hub id goes to ``load_dataset`` as is.
    """
    from datasets import load_dataset

    root = Path(dataset)
    if not root.is_dir():
        return load_dataset(dataset, config, split=split)
    folder = root / "data" / config
    files = {s: sorted(str(p) for p in folder.glob(f"{s}-*.parquet")) for s in SPLITS}
    files = {s: f for s, f in files.items() if f}
    if not files:
        have = sorted(p.name for p in (root / "data").iterdir() if p.is_dir()) if (root / "data").is_dir() else []
        raise ValueError(f"{dataset}: no {config!r} config (data/{config}/*.parquet)"
                         + (f"; it has {', '.join(have)}" if have else "; is it a dub dataset folder?"))
    if split is not None and split not in files:
        raise ValueError(f"{dataset}: config {config!r} has no {split} split (it has {', '.join(files)})")
    return load_dataset("parquet", data_files=files, split=split)
