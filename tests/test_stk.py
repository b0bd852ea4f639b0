"""The Synthesis ToolKit's instruments rendered into a SoundFont (``dub stk-font``; set-up builds
STK_Instruments.sf2), played by both engines and drawn by the notes config."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, TIMGM, cents_off
from pretty_midi import note_number_to_name

from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont, soundfont_split
from dub_dataset.stk import RENDER_RATE, STK_PROGRAMS, render_stk_note, stk_sample_folder
from dub_models.cli import main

pytestmark = pytest.mark.skipif(shutil.which("stk-demo") is None, reason="Debian's stk not installed (scripts/setup.sh installs it)")
STK_FONT = Path("~/.local/share/soundfonts/STK_Instruments.sf2").expanduser()


def test_a_rendered_note_sounds_its_key_is_released_and_repeats_with_its_seed():
    x = render_stk_note("Clarinet", 57, seed=3)
    assert x.dtype == np.float32 and np.isfinite(x).all()
    assert abs(cents_off(x, 57, RENDER_RATE)) < 20
    held = np.sqrt(np.mean(x[int(1.0 * RENDER_RATE): int(2.0 * RENDER_RATE)] ** 2))
    after = np.sqrt(np.mean(x[-int(0.2 * RENDER_RATE):] ** 2))
    assert held > 0.05 and after < 0.05 * held  # held 4.4 s, then let go
    assert np.array_equal(render_stk_note("Clarinet", 57, seed=3), x)  # the clock STK seeds from is frozen
    assert not np.array_equal(render_stk_note("Clarinet", 57, seed=4), x)  # and the seed moves its breath noise
    # a bowed string and an FM Rhodes sound their keys too; a plucked string decays
    assert abs(cents_off(render_stk_note("Bowed", 64, controls=((2, 90),)), 64, RENDER_RATE)) < 25
    assert abs(cents_off(render_stk_note("Rhodey", 60), 60, RENDER_RATE)) < 20
    pluck = render_stk_note("Plucked", 52)
    assert np.abs(pluck[: RENDER_RATE // 2]).max() > 10 * np.abs(pluck[3 * RENDER_RATE: 4 * RENDER_RATE]).max()


def test_notes_that_do_not_speak_are_left_out_and_named(tmp_path):
    report: list[str] = []
    folders = stk_sample_folder(tmp_path / "stk", programs=[40, 12], step=12, seed=0, report=report)
    assert [f.name for f in folders] == ["040_violin", "012_marimba"]
    # strings' range 36-96 every 12 semitones: the bowed string wavers on C4 and jumps an octave on C6
    assert sorted(p.stem for p in folders[0].iterdir()) == ["C2", "C3", "C5", "C7"]
    assert report == ["040 Bowed C4: left out (no steady pitch)", "040 Bowed C6: left out (sounds +1230 cents off its key)"]
    assert sorted(p.stem for p in folders[1].iterdir()) == [note_number_to_name(n) for n in range(48, 97, 12)]


def test_stk_font_cli_writes_a_training_font_both_engines_play_at_pitch(tmp_path, capsys):
    out = tmp_path / "STK_Instruments.sf2"
    assert main(["stk-font", str(out), "--step", "6"]) == 0
    assert "wrote 16 melodic presets" in capsys.readouterr().out
    font = load_soundfont(out)
    assert sorted(p.program for p in font.melodic()) == sorted(STK_PROGRAMS)
    assert soundfont_split(font) == "train"
    by_program = {p.program: p for p in font.melodic()}
    for engine in ("fluidsynth", "tinysoundfont"):
        eng = get_engine(engine, SR)
        for program, key in ((71, 55), (73, 74), (4, 60), (40, 67)):  # keys between rendered notes
            x = eng.render(str(out), by_program[program], [Note(0.0, 1.2, key, 100)], 1.4, drum=False)
            assert abs(cents_off(x, key, SR)) < 30, (engine, program, key)
    again = tmp_path / "again.sf2"
    assert main(["stk-font", str(again), "--step", "6"]) == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic: the same seed, the same bytes


def test_stk_font_names_what_is_wrong(tmp_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="GM program 0 has no STK instrument"):
        stk_sample_folder(tmp_path / "x", programs=[0])
    with pytest.raises(ValueError, match="'Tuba' is not an STK instrument"):
        render_stk_note("Tuba", 60)
    with pytest.raises(ValueError, match="MIDI values"):
        render_stk_note("Clarinet", 130)
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without Debian's stk
    assert main(["stk-font", str(tmp_path / "x.sf2")]) != 0
    assert "stk-demo not found: install Debian's stk package" in capsys.readouterr().err
    assert not (tmp_path / "x.sf2").exists() and not (tmp_path / "x").exists()


@pytest.mark.skipif(not STK_FONT.is_file(), reason="STK_Instruments not rendered (scripts/setup.sh renders it)")
def test_set_ups_stk_font_trains_the_notes_config():
    from dub_dataset.sources import Spec, make_maker

    font = load_soundfont(STK_FONT)
    assert sorted(p.program for p in font.melodic()) == sorted(STK_PROGRAMS)
    maker = make_maker(Spec("notes", seed=0, soundfonts=[TIMGM, str(STK_FONT)], split_by="soundfont", sample_rate=SR))
    assert {f.name for f, _ in maker.sources_in("train")} == {"STK_Instruments"}
    rows = [maker.make("train", i) for i in range(6)]
    assert all(r["soundfont"] == "STK_Instruments" and r["program"] in STK_PROGRAMS for r in rows)
    for r in rows:  # each drawn note is audible
        x, _ = sf.read(io.BytesIO(r["audio"]["bytes"]))
        assert np.abs(x).max() > 1e-3, r["id"]
