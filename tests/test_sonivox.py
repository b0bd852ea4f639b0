"""Sonivox EAS, Android's GM synthesiser (Debian libsonivox3), rendered into a SoundFont (``dub
eas-font``; set-up builds Sonivox_EAS.sf2): played by both engines, drawn by the notes and drums
configs as a training font."""

import ctypes.util
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, TIMGM, cents_off

from dub_dataset.constants import DRUM_NOTES
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont, soundfont_split
from dub_models.cli import main

pytestmark = pytest.mark.skipif(ctypes.util.find_library("sonivox") is None,
                                reason="Debian's libsonivox3 not installed (scripts/setup.sh installs it)")
EAS_FONT = Path("~/.local/share/soundfonts/Sonivox_EAS.sf2").expanduser()


def _rms(x, sr, a, b):
    return float(np.sqrt(np.mean(x[int(a * sr): int(b * sr)].astype(np.float64) ** 2)))


def test_eas_renders_a_note_at_its_key_repeatably_louder_with_velocity_and_released():
    from dub_dataset.sonivox import eas_rate, render_eas_note

    rate = eas_rate()
    assert rate == 22_050
    x = render_eas_note(73, 69, hold_s=2.0, tail_s=0.6)  # a flute, A4
    assert x.dtype == np.float32 and np.isfinite(x).all() and len(x) >= int(2.6 * rate)
    assert abs(cents_off(x, 69, rate)) < 20
    assert np.array_equal(render_eas_note(73, 69, hold_s=2.0, tail_s=0.6), x)  # no random element
    assert _rms(x, rate, 1.9, 2.0) > 30 * _rms(x, rate, 2.5, 2.6)  # released at its note-off
    assert abs(cents_off(render_eas_note(0, 57), 57, rate)) < 20  # a piano
    quiet, loud = (np.abs(render_eas_note(0, 60, velocity=v, hold_s=0.5, tail_s=0.1)).max() for v in (40, 120))
    assert loud > 3 * quiet > 0
    # its reverb is bypassed: a short drum hit is silent 0.3 s after it died away in the dry render
    kick = render_eas_note(0, 36, hold_s=1.0, tail_s=0.1, drum=True)
    assert np.abs(kick[: rate // 10]).max() > 0.1 and np.abs(kick[rate // 2:]).max() < 1e-4
    with pytest.raises(ValueError, match="MIDI values"):
        render_eas_note(0, 130)


def test_a_held_note_loops_smoothly_and_a_decaying_one_is_cut_where_it_dies():
    from dub_dataset.sonivox import eas_rate, looped_sample, render_eas_note, trimmed_sample

    rate = eas_rate()
    organ = render_eas_note(19, 57)  # church organ: holds its level
    y, (start, end) = looped_sample(organ, rate)
    assert start == rate  # the loop starts 1 s in, past the attack
    assert 0.5 * rate <= end - start <= 0.7 * rate
    # across the jump the waveform runs on: the step from the loop's last sample to its first is
    # no larger than the note's own steps from sample to sample
    steps = np.abs(np.diff(organ[start: end]))
    assert abs(y[end - 1] - y[start]) <= np.percentile(steps, 99.5)
    plucked = render_eas_note(24, 52)  # nylon guitar: dies away
    z = trimmed_sample(plucked, rate)
    assert len(z) < len(plucked) and np.abs(z[-rate // 100:]).max() < 1e-2 * np.abs(plucked).max()


def test_eas_font_cli_writes_a_training_font_with_a_kit_both_engines_play(tmp_path, capsys):
    from dub_dataset.sonivox import eas_rate, render_eas_note

    out = tmp_path / "Sonivox_EAS.sf2"
    assert main(["eas-font", str(out), "--step", "12"]) == 0
    assert "wrote 128 melodic presets and a drum kit" in capsys.readouterr().out
    font = load_soundfont(out)
    assert sorted(p.program for p in font.melodic()) == list(range(128))
    assert soundfont_split(font) == "train"
    melodic, kit = {p.program: p for p in font.melodic()}, font.drum_kits()[0]
    assert (kit.bank, kit.program) == (128, 0)
    for engine in ("fluidsynth", "tinysoundfont"):
        eng = get_engine(engine, SR)
        for program, key in ((0, 63), (40, 70), (56, 66)):  # keys between rendered notes
            x = eng.render(str(out), melodic[program], [Note(0.0, 1.2, key, 100)], 1.4, drum=False)
            assert abs(cents_off(x, key, SR)) < 30, (engine, program, key)
        # the organ's loop holds it for as long as the key is down, 3.5 s of a 0.5-0.7 s loop
        organ = eng.render(str(out), melodic[19], [Note(0.0, 3.5, 60, 100)], 3.8, drum=False)
        assert _rms(organ, SR, 3.0, 3.4) > 0.5 * _rms(organ, SR, 0.6, 1.0) > 0
        assert _rms(organ, SR, 3.7, 3.8) < 0.1 * _rms(organ, SR, 3.0, 3.4)  # and lets it go at the note-off
        # a drum hit plays its whole decay, though the drums config's note-off comes after 0.1 s
        tom = eng.render(str(out), kit, [Note(0.0, 0.1, 45, 100)], 2.0, drum=True)
        direct = render_eas_note(0, 45, hold_s=2.0, tail_s=0.0, drum=True)
        tail = _rms(direct, eas_rate(), 0.3, 0.4) / _rms(direct, eas_rate(), 0.0, 0.1)
        assert _rms(tom, SR, 0.3, 0.4) / _rms(tom, SR, 0.0, 0.1) == pytest.approx(tail, rel=0.5)
    again = tmp_path / "again.sf2"
    assert main(["eas-font", str(again), "--step", "12", "--no-kit"]) == 0
    assert load_soundfont(again).drum_kits() == []


@pytest.mark.skipif(not EAS_FONT.is_file(), reason="Sonivox_EAS not rendered (scripts/setup.sh renders it)")
def test_set_ups_eas_font_trains_both_configs_and_shares_no_sound_with_the_test_bank():
    from dub_dataset.sources import Spec, held_out_sound_keys, make_maker

    font, test = load_soundfont(EAS_FONT), load_soundfont(TIMGM)
    assert len(font.melodic()) == 128 and len(font.drum_kits()) == 1
    # none of its kit keys plays a TimGM6mb recording (same bytes or the same sound)
    kits = [(font, k) for k in font.drum_kits()]
    assert held_out_sound_keys(kits, [(test, k) for k in test.drum_kits()], DRUM_NOTES) == set()
    for config in ("notes", "drums"):
        maker = make_maker(Spec(config, seed=0, soundfonts=[TIMGM, str(EAS_FONT)], split_by="soundfont",
                                sample_rate=SR, drumkits=[]))
        assert {f.name for f, _ in maker.sources_in("train")} == {"Sonivox_EAS"}, config
        rows = [maker.make("train", i) for i in range(6)]
        assert all(r["soundfont"] == "Sonivox_EAS" for r in rows)
        for r in rows:  # each drawn example sounds (a ride bell at velocity 22 through a 790 Hz low-pass: 3e-4)
            x, _ = sf.read(io.BytesIO(r["audio"]["bytes"]))
            assert np.abs(x).max() > 1e-4, r["id"]


def test_eas_font_names_a_missing_library_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import dub_dataset.sonivox as sonivox

    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(sonivox, "LIBRARY", "libsonivox-not-here.so.3")  # a machine without Debian's libsonivox3
    sonivox._lib.cache_clear()
    try:
        assert main(["eas-font", str(tmp_path / "x.sf2")]) != 0
        err = capsys.readouterr().err
        assert "libsonivox not found" in err and "install Debian's libsonivox3" in err
    finally:
        sonivox._lib.cache_clear()
    assert not (tmp_path / "x.sf2").exists()
    assert main(["eas-font", str(tmp_path / "x.sf2"), "--step", "0"]) != 0
    assert "step must be at least 1 semitone" in capsys.readouterr().err and not (tmp_path / "x.sf2").exists()
