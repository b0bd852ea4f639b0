"""FreePats' melodic GUS patches converted to a SoundFont (``dub gus2sf2``), played by both engines."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, dominant_hz

from dub_dataset.gus import read_waves
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont, soundfont_split
from dub_models.cli import main

TONES = Path("/usr/share/midi/freepats/Tone_000")  # Debian freepats, GPL-2+
PATCHES = ("040_Violin.pat", "073_Flute.pat", "033_Finger_Bass.pat", "080_Square_Wave.pat")


@pytest.fixture(scope="module")
def freepats(tmp_path_factory):
    if not TONES.is_dir():
        pytest.skip("Debian freepats not installed (scripts/setup.sh installs it)")
    src = tmp_path_factory.mktemp("tones")
    for name in PATCHES:
        shutil.copy(TONES / name, src / name)
    out = tmp_path_factory.mktemp("sf") / "FreePats_GM.sf2"
    assert main(["gus2sf2", str(src), str(out)]) == 0
    return src, out


def _direct(wave, key: int, seconds: float, sr: int = SR) -> np.ndarray:
    """The wave played at ``key`` by plain resampling (no loop): what the patch itself says it sounds."""
    ratio = 440 * 2 ** ((key - 69) / 12) / wave.root_hz * wave.rate / sr
    n = min(int(seconds * sr), int((wave.samples.size - 1) / ratio))
    return np.interp(np.arange(n) * ratio, np.arange(wave.samples.size), wave.samples)


def test_the_soundfont_holds_each_patch_as_its_gm_program_and_is_rebuilt_byte_for_byte(freepats, tmp_path):
    src, out = freepats
    font = load_soundfont(out)
    assert [(p.bank, p.program) for p in font.melodic()] == [(0, 33), (0, 40), (0, 73), (0, 80)]
    assert font.melodic()[1].name.startswith("Violin") and not font.drum_kits()
    assert soundfont_split(font) == "train"  # FreePats_GM is a training font (constants.SOUNDFONT_SPLIT)
    again = tmp_path / "again.sf2"
    assert main(["gus2sf2", str(src), str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("engine", ["fluidsynth", "tinysoundfont"])
@pytest.mark.parametrize("patch,key", [("073_Flute.pat", 72), ("073_Flute.pat", 79), ("040_Violin.pat", 67),
                                       ("033_Finger_Bass.pat", 40)])
def test_a_note_sounds_at_the_pitch_its_patch_gives_it(freepats, engine, patch, key):
    """Key range, root key and pitch correction survive the conversion: the rendered note's
    strongest partial is the one of the patch's own wave resampled to that key."""
    src, out = freepats
    font = load_soundfont(out)
    preset = next(p for p in font.melodic() if p.program == int(patch[:3]))
    want_hz = 440 * 2 ** ((key - 69) / 12)
    wave = next(w for w in read_waves(src / patch) if w.low_hz <= want_hz <= w.high_hz)
    x = get_engine(engine, SR).render(str(out), preset, [Note(0.0, 1.0, key, 100)], 1.2, drum=False)
    ref = _direct(wave, key, 1.0)
    got, expect = dominant_hz(x[int(0.1 * SR):int(0.6 * SR)]), dominant_hz(ref[int(0.1 * SR):int(0.6 * SR)])
    assert abs(1200 * np.log2(got / expect)) < 25, (got, expect)


@pytest.mark.parametrize("patch", ["040_Violin.pat", "080_Square_Wave.pat"])
def test_looped_waves_sustain_while_held_and_stop_after_release(freepats, patch):
    """The violin's and the square wave's waves last under 1.5 s; held 2.5 s the note still sounds
    (the loop; the square wave's loops go back and forth), and the patch's release ends it."""
    src, out = freepats
    longest = max(w.samples.size / w.rate for w in read_waves(src / patch))
    assert longest < 1.5
    font = load_soundfont(out)
    preset = next(p for p in font.melodic() if p.program == int(patch[:3]))
    for engine in ("fluidsynth", "tinysoundfont"):
        x = get_engine(engine, SR).render(str(out), preset, [Note(0.0, 2.5, 67, 100)], 4.0, drum=False)
        rms = lambda a, b: float(np.sqrt(np.mean(x[int(a * SR):int(b * SR)] ** 2)))  # noqa: E731
        assert rms(2.2, 2.5) > 0.3 * rms(0.2, 0.5), engine
        assert rms(3.6, 4.0) < 0.01 * rms(0.2, 0.5), engine


def test_back_and_forth_loops_are_unrolled_forward(freepats):
    """SoundFonts loop forward only: a ping-pong loop becomes the segment then its reverse."""
    from dub_dataset.gus import wave_zones

    src, _ = freepats
    waves = read_waves(src / "080_Square_Wave.pat")
    assert all(w.pingpong for w in waves)
    zones = wave_zones(waves, "square")
    assert zones[0].key_range[0] == 0 and zones[-1].key_range[1] == 127
    assert all(a.key_range[1] + 1 == b.key_range[0] for a, b in zip(zones, zones[1:]))
    w = min(waves, key=lambda w: w.low_hz)
    z, (s, e) = zones[0], w.loop
    assert z.loop == (s, e + (e - s))
    np.testing.assert_array_equal(z.samples[:e], w.samples[:e])
    np.testing.assert_array_equal(z.samples[e:2 * e - s], w.samples[s:e][::-1])


def test_gus2sf2_names_what_is_wrong(freepats, tmp_path, capsys):
    assert main(["gus2sf2", str(tmp_path / "nowhere"), str(tmp_path / "x.sf2")]) == 2
    assert "nowhere: no such folder of GUS patches" in capsys.readouterr().err
    (tmp_path / "readme.txt").write_text("no patches here")
    assert main(["gus2sf2", str(tmp_path), str(tmp_path / "x.sf2")]) == 2
    assert "no GUS patch named NNN_Name.pat" in capsys.readouterr().err
    bad = tmp_path / "tones"
    bad.mkdir()
    shutil.copy(TONES / "073_Flute.pat", bad / "073_Flute.pat")
    shutil.copy(TONES / "073_Flute.pat", bad / "073_Flute_2.pat")
    assert main(["gus2sf2", str(bad), str(tmp_path / "x.sf2")]) == 2
    assert "073_Flute.pat and 073_Flute_2.pat are both GM program 73" in capsys.readouterr().err
    (bad / "073_Flute_2.pat").unlink()
    (bad / "080_Square.pat").write_bytes((TONES / "080_Square_Wave.pat").read_bytes()[:400])  # cut short
    assert main(["gus2sf2", str(bad), str(tmp_path / "x.sf2")]) == 2
    assert "080_Square.pat: truncated wave data" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["readme.txt", "tones"]  # nothing written, no temporary left
