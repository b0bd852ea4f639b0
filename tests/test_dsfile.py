"""LMMS's DrumSynth presets rendered as a training kit (dub_dataset/dsfile.py, `dub drumsynth-kit`)."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dub_dataset.constants import DRUM_CLASS_OF_NOTE, DRUMSYNTH_KIT_DIR, DRUMSYNTH_LICENSE
from dub_dataset.dsfile import DS_SAMPLE_RATE, DrumSynthError, drumsynth_sample_folder, ds_key, render_ds
from dub_dataset.hydrogen import discover_drumkits, kit_splits, load_sample_folder

DS = Path("/usr/share/lmms/samples/drumsynth")
pytestmark = pytest.mark.skipif(not DS.is_dir(), reason="Debian's lmms-common is not installed (scripts/setup.sh)")


def _spectrum(y):
    s = np.abs(np.fft.rfft(y.astype(np.float64), 1 << 16)) ** 2
    return np.fft.rfftfreq(1 << 16, 1 / DS_SAMPLE_RATE), s


def _share_below(y, hz):
    f, s = _spectrum(y)
    return s[f < hz].sum() / s.sum()


def test_drum_machine_presets_sound_like_their_voice():
    """The TR-808's kick is a low sine sweep (its energy under 150 Hz), its hats are bright and the
    open one rings longer than the closed one, the TR-909's snare is a tone and noise; the same seed renders the same bytes,
    another seed other noise."""
    kick = render_ds(DS / "tr808/Kick.ds")
    closed, open_ = render_ds(DS / "tr808/Hat_c.ds"), render_ds(DS / "tr808/Hat_o.ds")
    snare = render_ds(DS / "tr909/Snare.ds")
    assert kick.dtype == np.float32 and np.abs(kick).max() <= 1.0 and np.abs(kick).max() > 0.3
    assert _share_below(kick, 150) > 0.6
    for hat in (closed, open_):
        assert _share_below(hat, 4000) < 0.2

    def ring(y):  # seconds above -40 dB of the peak
        return np.nonzero(np.abs(y) > np.abs(y).max() * 0.01)[0][-1] / DS_SAMPLE_RATE
    assert ring(open_) > 2 * ring(closed)
    assert 0.3 < _share_below(snare, 1000) < 0.8  # the TR-909 snare: a tone and noise
    assert np.array_equal(render_ds(DS / "tr808/Snare.ds", seed=3), render_ds(DS / "tr808/Snare.ds", seed=3))
    assert not np.array_equal(render_ds(DS / "tr808/Snare.ds", seed=3), render_ds(DS / "tr808/Snare.ds", seed=4))
    # half the rate: the same hit, half the samples
    assert abs(len(render_ds(DS / "tr808/Kick.ds", sample_rate=22050)) - len(kick) / 2) <= 1200


def test_preset_names_give_a_class_only_when_they_say_one():
    assert ds_key("tr808/Hat_c.ds") == 42 and ds_key("tr808/Hat_o.ds") == 46
    assert ds_key("tr909/Hat-o2.ds") == 46 and ds_key("misc_hats/pedal_hh.ds") == 44
    assert ds_key("linn/linn_kik.ds") == 36 and ds_key("linn/linn_stk.ds") == 37 and ds_key("linn/linn_clp.ds") == 39
    assert ds_key("electro/K_8bit.ds") == 36 and ds_key("electro/S_Linn.ds") == 38
    assert ds_key("misc/fattie_bd.ds") == 36 and ds_key("misc/amen_sn_1.ds") == 38
    assert ds_key("tr808/Tom_lo.ds") == 45 and ds_key("tr808/Tom_mid.ds") == 47 and ds_key("tr606/TR606_Tom_H.ds") == 50
    assert ds_key("cr78/Maracas.ds") == 70 and ds_key("tr808/Cowbell.ds") == 56
    # toms that do not say which tom, effects, instruments, a snare named "clappy", a non-hat "open"
    for rel in ("linn/linn_tom3.ds", "tr77/Tr77_tom1.ds", "effects/Laser.ds", "instrument/flute.ds",
                "misc/clappy_snare.ds", "misc_electro/open_reso.ds", "misc/Simple-k.ds"):
        assert ds_key(rel) is None, rel


def test_a_rendered_folder_is_a_kit_with_the_classes_its_names_say(tmp_path):
    src = tmp_path / "ds"
    for rel in ("tr808/Kick.ds", "tr808/Hat_c.ds", "tr808/Hat_o.ds", "tr808/Tom_mid.ds", "linn/linn_tom2.ds",
                "effects/Laser.ds"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DS / rel, src / rel)
    files = drumsynth_sample_folder(src, tmp_path / "kit")
    assert [f.name for f in files] == ["036_tr808_Kick.wav", "042_tr808_Hat_c.wav", "046_tr808_Hat_o.wav",
                                       "047_tr808_Tom_mid.wav"]
    y, sr = sf.read(files[0])
    assert sr == DS_SAMPLE_RATE and np.abs(y).max() > 0.3 and abs(y[-1]) > 0  # trimmed after its last sound
    kit = load_sample_folder(tmp_path / "kit")
    assert kit.license == DRUMSYNTH_LICENSE
    assert sorted((i.drum_class, i.gm_note) for i in kit.instruments) == sorted(
        (DRUM_CLASS_OF_NOTE[k], k) for k in (36, 42, 46, 47))
    # written whole: a second run replaces it, and no temporary folder is left
    drumsynth_sample_folder(src, tmp_path / "kit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "kit"]


def test_bad_presets_and_folders_are_named(tmp_path):
    bad = tmp_path / "bad.ds"
    bad.write_text("[General]\nVersion=SomethingElse\n")
    with pytest.raises(DrumSynthError, match="bad.ds: not a DrumSynth"):
        render_ds(bad)
    huge = tmp_path / "huge.ds"
    huge.write_text((DS / "tr808/Kick.ds").read_text(errors="replace").replace(
        "12813,0", "900000000,0"))
    with pytest.raises(DrumSynthError, match="huge.ds: its envelopes last .* more than the 60 s"):
        render_ds(huge)
    (tmp_path / "kit").mkdir()
    shutil.copy(DS / "tr808/Kick.ds", tmp_path / "kit" / "Kick.ds")
    shutil.copy(huge, tmp_path / "kit" / "huge_kick.ds")
    with pytest.warns(UserWarning, match="huge_kick.ds: its envelopes last .*; left out of the kit"):
        assert [f.name for f in drumsynth_sample_folder(tmp_path / "kit", tmp_path / "kit_out")] == ["036_Kick.wav"]
    with pytest.raises(DrumSynthError, match="nope.ds: unreadable"):
        render_ds(tmp_path / "nope.ds")
    (tmp_path / "fx").mkdir()
    shutil.copy(DS / "effects/Laser.ds", tmp_path / "fx" / "Laser.ds")
    with pytest.raises(DrumSynthError, match="no preset has a folder and name"):
        drumsynth_sample_folder(tmp_path / "fx", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "drumsynth-kit", str(tmp_path / "missing"),
                        str(tmp_path / "out")], capture_output=True, text=True)
    assert r.returncode != 0 and "missing: no such folder" in r.stderr


@pytest.mark.skipif(not Path(DRUMSYNTH_KIT_DIR).expanduser().is_dir(),
                    reason="the DrumSynth kit is not rendered (scripts/setup.sh renders it)")
def test_the_rendered_kit_trains_the_drums_config():
    kits = discover_drumkits()
    ds = next(k for k in kits if k.name == "LMMS DrumSynth presets")
    assert kit_splits(kits)[ds.path] == "train" and ds.license == DRUMSYNTH_LICENSE
    classes = {i.drum_class for i in ds.instruments}
    assert set(DRUM_CLASS_OF_NOTE.values()) <= classes | {"tom_low", "tom_mid", "tom_high"}
    assert len(ds.instruments) > 300


def test_every_preset_lmms_ships_renders():
    """All 764 presets, through every mode of the format (overtones added, FM, ring-modulated and
    the TR-808 cymbal; the filter over everything; bit-crushing), render finite, audible, in range."""
    from dub_dataset.dsfile import _num, parse_ds

    modes, n = set(), 0
    for p in sorted(DS.rglob("*.ds")):
        d = parse_ds(p)
        if int(_num(d, "overtones", "On", 0, True)) == 1:
            modes.add(f"method{int(_num(d, 'overtones', 'Method', 2, True))}")
        if int(_num(d, "distortion", "On", 0, True)) == 1:
            modes.add("distortion")
        if int(_num(d, "general", "Filter", 0, True)) == 1:
            modes.add("filter")
        y = render_ds(p)
        assert np.isfinite(y).all() and 0 < np.abs(y).max() <= 1.0, p
        n += 1
    assert n > 700 and modes == {"method0", "method1", "method2", "method3", "distortion", "filter"}
