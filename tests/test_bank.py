"""The hit bank holds a drums config's training hits as the generator renders them, draws examples
as the generator draws them, and trains models through scripts/train_drums_bank.py."""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import GMBANK, SR, TIMGM, dominant_hz
from dub_dataset.bank import AUDIO, INDEX, TRIM_DB, BankMaker, _resample, export_bank, spec_of_dataset
from dub_dataset.constants import DRUM_CLASSES, DRUM_HIT_HOLD_S, OUTPUT_PEAK
from dub_dataset.drumsynth import write_synth_kit
from dub_dataset.render import Note, create_engine
from dub_dataset.sources import DrumMaker, Spec
from dub_models.cli import main

PEARL = "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    """sf_GMbank's training keys (TimGM6mb is the test font, Black Pearl validation) and a drawn kit."""
    root = tmp_path_factory.mktemp("bank")
    write_synth_kit(root / "kit", per_class=1, seed=0)
    spec = Spec("drums", seed=3, soundfonts=[TIMGM, GMBANK, PEARL], drumkits=[str(root / "kit")],
                split_by="soundfont", sample_rate=SR)
    return spec, export_bank(spec, root / "bank"), root / "bank"


def test_the_bank_holds_every_training_hit_as_rendered(bank):
    spec, index, folder = bank
    maker = DrumMaker(spec)
    cands = maker.candidates("train")
    assert len(index["candidates"]) == sum(len(v) for v in cands.values())
    assert {c["class"] for c in index["candidates"]} == set(cands) == set(DRUM_CLASSES)
    # a SoundFont hit carries its font's --font-weight (1 here), which the bank's draw weighs it by
    assert {c["weight"] for c in index["candidates"] if c["kind"] == "soundfont"} == {1.0}
    assert {c["source"].split(" / ")[0] for c in index["candidates"] if c["kind"] == "soundfont"} == {"sf_GMbank"}
    audio, sr = sf.read(folder / AUDIO, dtype="float32")
    assert sr == SR and len(audio) == index["num_samples"]
    # a SoundFont key at each velocity: the stored hit (times its gain) is the engine's render, cut where it
    # has decayed 60 dB; a velocity that plays the same sample only quieter points at the stored one
    fonts = {f.name: f for f in maker.fonts}
    shared = checked = 0
    errs = []
    for c in [c for c in index["candidates"] if c["kind"] == "soundfont"][::3]:
        font = fonts[c["source"].split(" / ")[0]]
        kit = next(k for k in font.drum_kits() if f"({k.bank}:{k.program})" in c["source"])
        engine = create_engine(c["engine"], SR, spec.render_oversample)  # as the maker renders
        for h in c["hits"]:
            x = engine.render(font.path, kit, [Note(0.0, DRUM_HIT_HOLD_S, c["note"], h["velocity"])], 2.0, drum=True)
            stored = audio[h["offset"]:h["offset"] + h["length"]] * h["gain"]
            err = np.linalg.norm(x[:len(stored)] - stored) / np.linalg.norm(x)
            # 16-bit FLAC (about 1 % on quiet hits), FluidSynth's state in long cymbal tails (up to 7 %
            # against a fresh engine), a copy at another velocity (correlation > 0.999: up to 4.5 %)
            assert err < 0.08, (c["source"], c["note"], h)
            errs.append(err)
            assert np.abs(x[len(stored):]).max(initial=0) < np.abs(x).max() * 10 ** (-(TRIM_DB - 1) / 20)
            checked += 1
        shared += len({h["offset"] for h in c["hits"]}) < len(c["hits"])
    assert checked > 20 and shared > 0 and np.median(errs) < 0.02
    recorded = [c for c in index["candidates"] if c["kind"] == "recorded"]
    assert len(recorded) == 12 and all(c["source"].endswith("(sample folder)") for c in recorded)


def test_bank_examples_are_drawn_like_the_generators(bank):
    _, index, folder = bank
    maker = BankMaker(folder)
    a, cls = maker.make(5)
    b, cls_b = maker.make(5)
    assert a.tobytes() == b.tobytes() and cls == cls_b  # explicit seeds: same index, same example
    assert maker.make(6)[0].tobytes() != a.tobytes()
    made = [maker.make(i) for i in range(240)]
    counts = np.bincount([c for _, c in made], minlength=12)
    assert counts.min() >= 8, counts  # classes drawn uniformly (20 each expected)
    assert all(len(x) == 2 * SR and 0 < np.abs(x).max() <= OUTPUT_PEAK + 1e-6 for x, _ in made)
    # a pitch shift resamples: an octave up is half as long and twice the frequency
    t = np.arange(SR) / SR
    up = _resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 1200)
    assert len(up) == SR // 2 and abs(dominant_hz(up) - 880) < 5


def test_bank_refuses_what_it_cannot_use(bank, tmp_path):
    spec, index, folder = bank
    with pytest.raises(FileNotFoundError, match="not a hit bank"):
        BankMaker(tmp_path)
    (tmp_path / "short").mkdir()
    audio, _ = sf.read(folder / AUDIO, dtype="float32")
    sf.write(tmp_path / "short" / AUDIO, audio[: len(audio) // 2], SR, subtype="PCM_16")
    (tmp_path / "short" / INDEX).write_text(json.dumps(index))
    with pytest.raises(ValueError, match="the index says"):
        BankMaker(tmp_path / "short")
    with pytest.raises(ValueError, match="drums config"):
        export_bank(Spec("notes", soundfonts=[TIMGM]), tmp_path / "notes")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        export_bank(spec, tmp_path / "file")
    with pytest.raises(FileNotFoundError, match="dub.json"):
        spec_of_dataset(tmp_path)
    r = subprocess.run([sys.executable, "scripts/train_drums_bank.py", "--bank", str(tmp_path / "short"), "--out",
                        str(tmp_path / "o"), "--model", "t=cnn:4,4,4,4"], cwd=Path(__file__).parent.parent,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "the index says" in r.stderr and "Traceback" not in r.stderr


def test_dub_bank_reads_a_datasets_spec_and_the_script_trains_from_it(small_dataset, bank, tmp_path):
    """`dub bank --dataset` takes the Spec the dataset's split was written with; the trainer script
    runs on a CPU, scores on a validation bank, and packs loadable models."""
    assert main(["bank", str(tmp_path / "b"), "--dataset", str(small_dataset)]) == 0
    index = json.loads((tmp_path / "b" / INDEX).read_text())
    meta = json.loads((small_dataset / "dub.json").read_text())["drums"]
    assert index["seed"] == meta["spec"]["seed"] == 7
    assert {c["source"] for c in index["candidates"] if c["kind"] == "soundfont"} <= set(meta["sources"]["train"])
    _, _, val_bank = bank
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "scripts/train_drums_bank.py", "--bank", str(tmp_path / "b"),
                        "--val-bank", str(val_bank), "--val-examples", "32", "--eval-every", "2", "--out", str(out),
                        "--work", str(tmp_path / "w"), "--minutes", "0.1", "--workers", "1", "--block", "16",
                        "--batch-size", "8", "--model", "t=cnn:4,8,8,8"],
                       cwd=Path(__file__).parent.parent, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["made"] > 0 and summary["steps"] > 0 and 0 <= summary["val_best"]["t"] <= 1
    assert '"val/t"' in r.stdout
    with tarfile.open(out / "t.tar") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    from transformers import pipeline

    clf = pipeline("audio-classification", model=str(tmp_path / "x" / "t_final"))
    assert clf.model.config.channels == [4, 8, 8, 8] and clf.model.config.dub_task == "drums"
    x, _ = BankMaker(val_bank).make(0)
    top = clf({"raw": x, "sampling_rate": SR}, top_k=12)
    assert {d["label"] for d in top} == set(DRUM_CLASSES)
    assert (tmp_path / "x" / "t_best" / "model.safetensors").is_file()
