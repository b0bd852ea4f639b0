import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SR, dominant_hz, ffmpeg
from dub_dataset import Spec, generate, iterable_dataset
from dub_dataset.audio_io import AudioError, decode_audio_bytes
from dub_dataset.constants import DRUM_CLASS_OF_NOTE, DRUM_CLASSES, EFFECTS, GM_FAMILIES
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import Preset


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))}


def test_round_trip_through_load_dataset(small_dataset):
    from datasets import load_dataset

    drums = load_dataset(str(small_dataset), "drums")
    assert {k: len(v) for k, v in drums.items()} == {"train": 32, "validation": 4, "test": 4}
    row = drums["train"][0]
    audio = row["audio"].get_all_samples()
    assert audio.sample_rate == SR and audio.data.shape[-1] == 2 * SR
    names = drums["train"].features["drum_class"].names
    assert names == list(DRUM_CLASSES)
    for r in drums["train"].select_columns(["drum_class", "midi_note"]):
        assert names[r["drum_class"]] == DRUM_CLASS_OF_NOTE[r["midi_note"]]
    assert row["logmel_image"].size == (2 * 100 + 1, 128)
    notes = load_dataset(str(small_dataset), "notes")
    assert notes["train"].features["family"].names == list(GM_FAMILIES)
    fam = notes["train"]["family"]
    prog = notes["train"]["program"]
    assert all(p // 8 == f for p, f in zip(prog, fam))
    assert notes["train"].features["effects"].feature.names == list(EFFECTS)


def test_effect_columns_describe_the_audio(small_dataset, small_fonts):
    """Labels agree with the audio: filtered examples have no energy where their filter cuts."""
    from datasets import load_dataset

    from dub_dataset.effects import AugmentConfig
    from dub_dataset.sources import make_maker

    filtered = AugmentConfig(**{**AugmentConfig.dry().to_dict(), "filter": 1.0, "time_stretch_range": (0.9, 1.1)})
    maker = make_maker(Spec("notes", seed=9, soundfonts=small_fonts, images=(), augment=filtered))
    kinds = set()
    for i in range(12):
        r = maker.make("train", i)
        x, _ = decode_audio_bytes(r["audio"]["bytes"])
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        fc, kind = r["filter_cutoff_hz"], r["filter_type"]
        kinds.add(kind)
        if kind == "lowpass":
            assert spec[f > 3 * fc].sum() / spec.sum() < 1e-3, r["id"]
        elif kind == "highpass":
            assert spec[f < fc / 3].sum() / spec.sum() < 1e-2, r["id"]
        else:
            assert kind == "bandpass" and spec[(f > fc * 4) | (f < fc / 4)].sum() / spec.sum() < 1e-2, r["id"]
        assert r["effects"] == [EFFECTS.index(kind)]
    assert kinds == {"lowpass", "highpass", "bandpass"}
    ds = load_dataset(str(small_dataset), "notes", split="train")
    for r in ds.select_columns(["effects", "reverb_wet_level", "delay_mix", "chorus_mix", "filter_type",
                                "distortion_drive_db"]):
        assert (len(r["effects"]) == 0) == (r["reverb_wet_level"] == 0 and r["delay_mix"] == 0
                                            and r["chorus_mix"] == 0 and r["filter_type"] == "none"
                                            and r["distortion_drive_db"] == 0)


def test_splits_hold_out_instruments(small_dataset):
    from datasets import load_dataset

    for config in ("drums", "notes"):
        ds = load_dataset(str(small_dataset), config)
        sources = {s: {(r["soundfont"], r["bank"], r["preset"]) for r in d.select_columns(["soundfont", "bank", "preset"])}
                   for s, d in ds.items()}
        assert not sources["train"] & sources["test"] and not sources["train"] & sources["validation"]
        assert not sources["validation"] & sources["test"]


def test_card_declares_configs_and_licences(small_dataset):
    card = (small_dataset / "README.md").read_text()
    assert "config_name: drums" in card and "config_name: notes" in card
    assert "data/drums/train-*.parquet" in card
    assert "GPL-2" in card and "LGPL-2.1+" in card
    assert "every kit named 'brush': keys 39 snare" in card and "timgm6mb / room keys 37, 38, 39, 40, 41" in card
    from huggingface_hub import DatasetCard

    data = DatasetCard(card).data.to_dict()
    assert {c["config_name"] for c in data["configs"]} == {"drums", "notes"}


def test_same_seed_same_bytes_whatever_the_process_count(tmp_path, small_fonts):
    spec = Spec("notes", seed=3, soundfonts=small_fonts, images=("logmel",))
    generate(spec, 20, tmp_path / "a", examples_per_file=5, progress=False)
    generate(spec, 20, tmp_path / "b", num_proc=2, examples_per_file=5, progress=False)
    assert digests(tmp_path / "a") == digests(tmp_path / "b") and len(digests(tmp_path / "a")) == 6
    generate(Spec("notes", seed=4, soundfonts=small_fonts, images=("logmel",)), 20, tmp_path / "c",
             examples_per_file=5, progress=False)
    assert digests(tmp_path / "c") != digests(tmp_path / "a")


def test_shards_on_several_machines_merge_to_the_same_dataset(tmp_path, small_fonts):
    import shutil

    spec = Spec("drums", seed=5, soundfonts=small_fonts, images=())
    generate(spec, 24, tmp_path / "whole", examples_per_file=4, progress=False)
    for i in range(3):
        generate(spec, 24, tmp_path / f"m{i}", shard=i, num_shards=3, examples_per_file=4, progress=False)
        shutil.copytree(tmp_path / f"m{i}" / "data", tmp_path / "merged" / "data", dirs_exist_ok=True)
    assert digests(tmp_path / "merged") == digests(tmp_path / "whole")


def test_splits_written_apart_with_other_augmentation(tmp_path, small_fonts):
    """--splits: a training split with wide detune beside validation/test splits with a narrow one."""
    import json

    from dub_dataset.effects import AugmentConfig

    wide = Spec("drums", seed=5, soundfonts=small_fonts, images=(), augment=AugmentConfig(max_pitch_shift_cents=400))
    narrow = Spec("drums", seed=5, soundfonts=small_fonts, images=(), augment=AugmentConfig(max_pitch_shift_cents=50))
    generate(wide, 30, tmp_path / "mixed", examples_per_file=4, progress=False)
    generate(narrow, 30, tmp_path / "narrow", examples_per_file=4, progress=False)
    before = digests(tmp_path / "mixed")
    generate(narrow, 30, tmp_path / "mixed", examples_per_file=4, progress=False, splits=("validation", "test"))
    after, ref = digests(tmp_path / "mixed"), digests(tmp_path / "narrow")
    assert set(after) == set(before)
    for name in after:  # train kept from the wide build; validation and test as the narrow build's
        assert after[name] == (before[name] if "/train-" in name else ref[name]), name
    assert any(after[n] != before[n] for n in after if "/test-" in n)  # the detune changed those clips
    record = json.loads((tmp_path / "mixed" / "dub.json").read_text())["drums"]
    assert record["spec"]["augment"]["max_pitch_shift_cents"] == 400
    assert set(record["split_specs"]) == {"validation", "test"}
    card = (tmp_path / "mixed" / "README.md").read_text()
    assert "The validation and test splits written apart" in card and "max_pitch_shift_cents 50." in card
    with pytest.raises(ValueError, match="--num-examples"):  # other sizes would draw other examples
        generate(narrow, 40, tmp_path / "mixed", examples_per_file=4, progress=False, splits=("test",))
    with pytest.raises(ValueError, match="choose from"):
        generate(narrow, 30, tmp_path / "mixed", progress=False, splits=("tests",))
    with pytest.raises(ValueError, match="--num-examples"):  # nothing to add to
        generate(narrow, 30, tmp_path / "empty", progress=False, splits=("test",))


def test_the_cards_command_makes_the_same_bytes(tmp_path, small_fonts):
    """The "Made with" command of a dataset's card (and of a model card's data line) names every
    option that differs from the default, so running it gives the dataset again, byte for byte."""
    import re
    import shlex

    from dub_dataset.effects import AugmentConfig
    from dub_models.cli import main
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, describe_data

    spec = Spec("drums", seed=2, soundfonts=small_fonts, drumkits=[], images=(), sample_rate=22050,
                render_oversample=1, clip_s=1.0, augment=AugmentConfig(max_pitch_shift_cents=150))
    generate(spec, 12, tmp_path / "a", progress=False)
    card = (tmp_path / "a" / "README.md").read_text()
    command = re.search(r"Made with: `([^`]+)`", card).group(1)
    for option in ("--sample-rate 22050", "--render-oversample 1", "--clip-seconds 1", "--max-pitch-shift-cents 150",
                   "--images ''", "--num-examples 12 --seed 2"):
        assert option in command, (option, command)
    model_card = describe_data(TrainArgs(task="drums", dataset=str(tmp_path / "a"), output_dir=str(tmp_path)),
                               get_task("drums"))
    assert f"made with `{command}`" in model_card
    argv = shlex.split(command)
    assert argv[:2] == ["dub", "generate"]
    assert main(argv[1:] + ["--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert digests(tmp_path / "b") == digests(tmp_path / "a") and digests(tmp_path / "a")


def test_interrupted_run_leaves_no_half_dataset_and_resumes(tmp_path, small_fonts):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "dub_models.cli", "generate", "--config", "notes", "--num-examples", "120",
           "--out", str(out), "--seed", "1", "--soundfont", small_fonts[0], "--soundfont", small_fonts[1],
           "--examples-per-file", "10", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staging = out / ".dub-staging"
    deadline = time.time() + 600  # a loaded machine can take minutes to import torch and transformers
    while time.time() < deadline and not list(staging.glob("*/*.parquet")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130, proc.stderr.read().decode()
    assert not (out / "data" / "notes").exists()  # nothing half-written where load_dataset looks
    done = len(list(staging.glob("*/*.parquet")))
    assert 0 < done < 12
    assert subprocess.run(cmd, capture_output=True).returncode == 0  # resumes
    assert not staging.exists()
    generate(Spec("notes", seed=1, soundfonts=small_fonts), 120, tmp_path / "clean", examples_per_file=10,
             progress=False)
    assert digests(out) == digests(tmp_path / "clean")


def test_folder_config_labels_by_folder_any_format(tmp_path, small_fonts):
    import soundfile as sf
    from datasets import load_dataset

    root = tmp_path / "samples"
    eng = get_engine("fluidsynth", SR)
    for label, program, fmt in (("flute", 73, "flac"), ("organ", 19, "mp3"), ("bass", 33, "ogg")):
        (root / label).mkdir(parents=True)
        for k, pitch in enumerate((48, 55, 60, 67)):
            x = eng.render(small_fonts[0], Preset(label, 0, program), [Note(0.05, 0.8, pitch, 100)], 1.2)
            wav = root / label / f"{k}.wav"
            sf.write(wav, x, SR)
            if fmt != "wav":
                ffmpeg("-i", str(wav), "-ar", "44100", str(wav.with_suffix("." + fmt)))
                wav.unlink()
    generate(Spec("folder", sample_dir=str(root), clip_s=1.0), 24, tmp_path / "ds", progress=False)
    ds = load_dataset(str(tmp_path / "ds"), "folder")
    assert ds["train"].features["label"].names == ["bass", "flute", "organ"]
    for split, d in ds.items():
        for r in d.select_columns(["label", "source_file"]):
            assert r["source_file"].startswith(d.features["label"].names[r["label"]] + "/")
    files = {s: set(d["source_file"]) for s, d in ds.items()}
    assert not files["train"] & files["test"]


def test_folder_errors_name_the_problem(tmp_path):
    (tmp_path / "kick").mkdir()
    with pytest.raises(ValueError, match="kick: empty instrument folder"):
        generate(Spec("folder", sample_dir=str(tmp_path)), 4, tmp_path / "o", progress=False)
    (tmp_path / "kick" / "a.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="a.wav: empty file"):
        generate(Spec("folder", sample_dir=str(tmp_path)), 4, tmp_path / "o", progress=False)
    with pytest.raises(ValueError, match="sample folder not found"):
        generate(Spec("folder", sample_dir=str(tmp_path / "nope")), 4, tmp_path / "o", progress=False)


def test_bad_arguments_are_named(tmp_path, small_fonts):
    with pytest.raises(ValueError, match="unknown config 'piano'"):
        Spec("piano")
    with pytest.raises(ValueError, match="unknown engine"):
        Spec("drums", engines=("timidity",))
    from dub_dataset.soundfonts import SoundFontError

    with pytest.raises(SoundFontError, match="nope.sf2: SoundFont not found"):
        generate(Spec("drums", soundfonts=["/nope.sf2"]), 4, tmp_path, progress=False)
    with pytest.raises(ValueError, match="no source instrument"):  # one kit cannot fill three splits
        generate(Spec("drums", soundfonts=[small_fonts[0]], split_by="soundfont"), 10, tmp_path, progress=False)


def test_stream_gives_fresh_labelled_examples(small_fonts):
    ds = iterable_dataset(Spec("notes", seed=11, soundfonts=small_fonts, images=("logmel",)), num_examples=6, block=3)
    rows = list(ds)
    assert len(rows) == 6 and ds.features["family"].names == list(GM_FAMILIES)
    x = rows[0]["audio"].get_all_samples().data.numpy()[0]
    assert x.shape == (4 * SR,) and np.abs(x).max() > 1e-3
    again = list(iterable_dataset(Spec("notes", seed=11, soundfonts=small_fonts, images=("logmel",)), num_examples=6, block=3))
    assert [r["id"] for r in again] == [r["id"] for r in rows] and [r["pitch"] for r in again] == [r["pitch"] for r in rows]


def test_notes_sound_at_their_labelled_pitch(small_fonts):
    """Dry renders of the notes config are at the labelled MIDI pitch (up to the recorded detune)."""
    from dub_dataset.effects import AugmentConfig
    from dub_dataset.sources import make_maker

    maker = make_maker(Spec("notes", seed=2, soundfonts=small_fonts, images=(), augment=AugmentConfig.dry()))
    hits = 0
    for i in range(12):
        r = maker.make("train", i)
        if GM_FAMILIES[r["family"]] not in ("piano", "organ", "reed", "pipe", "strings", "brass"):
            continue
        x, sr = decode_audio_bytes(r["audio"]["bytes"])
        f0 = 440 * 2 ** ((r["pitch"] - 69) / 12)
        hz = dominant_hz(x[SR // 10: SR // 10 + SR // 2])
        ratio = hz / f0
        # the strongest partial is the fundamental or a harmonic of it
        assert min(abs(ratio - k) / k for k in range(1, 9)) < 0.03, (r["instrument"], r["pitch"], hz)
        hits += 1
    assert hits >= 2


def test_load_dataset_by_hub_id_from_a_local_mirror(small_dataset, tmp_path, monkeypatch):
    """load_dataset("org/name") resolves a folder in the Hub's layout (offline here)."""
    import shutil

    from datasets import load_dataset

    shutil.copytree(small_dataset, tmp_path / "dub-org" / "dub-drums")
    monkeypatch.chdir(tmp_path)
    ds = load_dataset("dub-org/dub-drums", "drums", split="test")
    assert len(ds) == 4


def test_push_to_hub_fails_clearly_offline(small_dataset, monkeypatch):
    from dub_dataset import push_to_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="dub-org/x"):
        push_to_hub(small_dataset, "dub-org/x", token="hf_dummy")


def test_cli_info_prints_what_the_dataset_holds(small_dataset, capsys):
    from dub_models.cli import main

    assert main(["info", str(small_dataset), "--config", "drums"]) == 0
    out = capsys.readouterr().out
    assert "num_rows: 32" in out and "train.drum_class" in out and "drums-train-0000000" in out


def test_regenerated_folder_is_read_afresh(tmp_path, small_fonts):
    """datasets' cache key for a folder does not follow its files: after a second `dub generate` into
    the same folder, plain load_dataset(folder, config) served the first build's rows. dub's loader
    (the trainer's, dub evaluate's, dub info's) reads what is on disk now."""
    from datasets import load_dataset

    from dub_dataset import Spec, generate, load_dub_dataset

    out = tmp_path / "ds"
    generate(Spec("drums", seed=1, soundfonts=small_fonts, images=()), 20, out, progress=False)
    first = load_dataset(str(out), "drums", split="train")["midi_note"]  # fills datasets' cache
    assert load_dub_dataset(str(out), "drums", split="train")["midi_note"] == first
    shutil.rmtree(out)
    generate(Spec("drums", seed=2, soundfonts=small_fonts, images=()), 20, out, progress=False)
    again = load_dub_dataset(str(out), "drums")
    on_disk = pq.read_table(sorted((out / "data" / "drums").glob("train-*.parquet"))[0], columns=["midi_note"])
    assert again["train"]["midi_note"][:len(on_disk)] == on_disk.column("midi_note").to_pylist() != first[:len(on_disk)]
    assert again["train"].features["drum_class"].names[0] == "kick" and set(again) == {"train", "validation", "test"}
    with pytest.raises(ValueError, match="no 'notes' config.*it has drums"):
        load_dub_dataset(str(out), "notes")
    with pytest.raises(ValueError, match="no 'drums' config.*is it a dub dataset folder"):
        load_dub_dataset(str(tmp_path), "drums")


def test_font_weights_tilt_the_notes_preset_draw_and_leave_unweighted_data_alone(small_fonts):
    """--font-weight NAME=W: a family's presets from NAME are drawn W times as often; weights of 1
    draw exactly what datasets were always drawn with; bad weights and names are refused."""
    from collections import Counter

    from dub_dataset.effects import AugmentConfig
    from dub_dataset.sources import make_maker

    dry = AugmentConfig.dry()
    tim = Path(small_fonts[0]).stem  # TimGM6mb

    def maker(weights=None):
        return make_maker(Spec("notes", seed=6, soundfonts=small_fonts, images=(), augment=dry,
                               split_by="preset", font_weights=weights))

    plain, ones, heavy = maker(), maker({tim: 1.0}), maker({tim: 20.0})
    for i in range(3):  # same bytes with every weight 1
        a, b = plain.make("train", i), ones.make("train", i)
        assert a["audio"]["bytes"] == b["audio"]["bytes"] and a["soundfont"] == b["soundfont"]
    rows = [heavy.make("train", i) for i in range(12)]
    counts = {}
    for m in (plain, heavy):
        m.make("train", 0)  # builds the family lists
        fams = m._by_family["train"]
        rng = np.random.default_rng(0)
        drawn = Counter(Path(m._draw_preset(rng, fams[f])[0].path).stem
                        for f in sorted(fams) for _ in range(50))
        counts[m] = drawn[tim] / sum(drawn.values())
    assert 0.3 < counts[plain] < 0.7 and counts[heavy] > 0.9, counts
    assert Counter(r["soundfont"] for r in rows)[tim] >= 9  # rendered rows follow the draw
    assert "font_weights" not in plain.spec.to_dict()  # old datasets keep their recorded Spec
    assert Spec.from_dict(heavy.spec.to_dict()).font_weights == {tim: 20.0}
    with pytest.raises(ValueError, match="names no SoundFont in use: Nope"):
        maker({"Nope": 2.0})
    with pytest.raises(ValueError, match="positive"):
        maker({tim: 0})
    with pytest.raises(ValueError, match="not mixtures"):
        Spec("mixtures", soundfonts=small_fonts, font_weights={tim: 2.0})


def test_font_weights_tilt_the_drums_kit_draw_and_leave_unweighted_data_alone(small_fonts):
    """In the drums config --font-weight NAME=W draws a class's SoundFont kit keys from NAME W times as
    often; weights of 1 draw the same hits, byte for byte."""
    from collections import Counter

    from dub_dataset.effects import AugmentConfig
    from dub_dataset.sources import make_maker

    dry = AugmentConfig.dry()
    tim, gm = (Path(f).stem for f in small_fonts)  # TimGM6mb, sf_GMbank: both have kits in train by preset

    def maker(weights=None):
        return make_maker(Spec("drums", seed=6, soundfonts=small_fonts, images=(), augment=dry, split_by="preset",
                               drumkits=[], font_weights=weights))

    plain, ones = maker(), maker({tim: 1.0, gm: 1.0})
    drawn = {}
    for i in range(12):
        a, b = plain.make("train", i), ones.make("train", i)
        assert a["audio"]["bytes"] == b["audio"]["bytes"] and a["midi_note"] == b["midi_note"]
        drawn[i] = a["soundfont"]
    assert 3 <= Counter(drawn.values())[tim] <= 9, drawn  # both fonts' kits drawn
    for name in (tim, gm):
        heavy = maker({name: 20.0})
        assert Counter(heavy.make("train", i)["soundfont"] for i in range(12))[name] >= 10, name
    with pytest.raises(ValueError, match="names no SoundFont in use: Nope"):
        maker({"Nope": 2.0})
