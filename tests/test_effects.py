import json
import pickle

import numpy as np
import pytest

from conftest import SR, TIMGM, band_db, dominant_hz
from dub_dataset import effects
from dub_dataset.constants import EFFECTS
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import Preset


def dry(**over):
    p = effects.draw(np.random.default_rng(0), effects.AugmentConfig.dry())
    p.update(over)
    return p


@pytest.fixture(scope="module")
def noise():
    return (np.random.default_rng(1).standard_normal(4 * SR) * 0.1).astype(np.float32)


@pytest.fixture(scope="module")
def pluck(small_fonts):
    """A short real note (staccato piano) followed by silence."""
    return get_engine("fluidsynth", SR).render(TIMGM, Preset("Piano", 0, 0), [Note(0, 0.15, 60, 110)], 3.0)


def apply(x, p, seed=0):
    return effects.apply(x.copy(), SR, p, np.random.default_rng(seed))


def test_draw_contract_json_pickle_and_seed():
    cfg = effects.AugmentConfig()
    a = effects.draw(np.random.default_rng(42), cfg)
    assert set(a) == set(effects.COLUMNS)
    assert json.loads(json.dumps(a)) == a and pickle.loads(pickle.dumps(a)) == a
    assert effects.draw(np.random.default_rng(42), cfg) == a
    assert effects.draw(np.random.default_rng(43), cfg) != a


def test_dry_config_is_identity_and_labels_empty(pluck):
    p = dry()
    assert effects.effect_labels(p) == []
    np.testing.assert_array_equal(apply(pluck, p), pluck)


def test_every_effect_label_is_drawn_and_labelled():
    seen = set()
    for i in range(300):
        seen.update(effects.effect_labels(effects.draw(np.random.default_rng(i), effects.AugmentConfig())))
    assert seen == set(EFFECTS)


def test_lowpass_removes_energy_above_cutoff(noise):
    y = apply(noise, dry(filter_type="lowpass", filter_cutoff_hz=1000.0))
    assert band_db(y, 3000, 8000) - band_db(noise, 3000, 8000) < -40
    assert abs(band_db(y, 100, 500) - band_db(noise, 100, 500)) < 1


def test_highpass_removes_energy_below_cutoff(noise):
    y = apply(noise, dry(filter_type="highpass", filter_cutoff_hz=2000.0))
    assert band_db(y, 50, 600) - band_db(noise, 50, 600) < -35
    assert abs(band_db(y, 5000, 7000) - band_db(noise, 5000, 7000)) < 1


def test_bandpass_keeps_the_band(noise):
    y = apply(noise, dry(filter_type="bandpass", filter_cutoff_hz=1000.0, filter_bandwidth_octaves=1.0))
    inside = band_db(y, 800, 1200) - band_db(noise, 800, 1200)
    assert inside > -3 and band_db(y, 4000, 8000) - band_db(noise, 4000, 8000) < -40


def decay_energy(x, after_s):
    return float(np.sum(x[int(after_s * SR):] ** 2))


def test_reverb_lengthens_the_decay(pluck):
    y = apply(pluck, dry(reverb_room_size=0.9, reverb_damping=0.3, reverb_wet_level=0.5))
    assert decay_energy(y, 1.0) > 100 * decay_energy(pluck, 1.0) + 1e-6


def test_bigger_room_decays_longer(pluck):
    small = apply(pluck, dry(reverb_room_size=0.3, reverb_damping=0.5, reverb_wet_level=0.5))
    big = apply(pluck, dry(reverb_room_size=0.95, reverb_damping=0.5, reverb_wet_level=0.5))
    assert decay_energy(big, 1.0) > 3 * decay_energy(small, 1.0)


def test_delay_repeats_after_its_time():
    click = np.zeros(2 * SR, np.float32)
    click[1000:1080] = np.hanning(80)
    y = apply(click, dry(delay_time_s=0.3, delay_feedback=0.5, delay_mix=0.5))
    echo = 1000 + int(0.3 * SR)
    assert np.abs(y[echo - 200: echo + 280]).max() > 0.2
    assert np.abs(y[2000: echo - 300]).max() < 0.02  # nothing between the hit and its echo


def test_distortion_adds_harmonics():
    t = np.arange(SR) / SR
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = apply(sine, dry(distortion_drive_db=25.0))
    # 3rd harmonic, relative to the fundamental, rises by a lot
    rel = lambda x: band_db(x, 1300, 1340) - band_db(x, 430, 450)  # noqa: E731
    assert rel(y) - rel(sine) > 30


def test_chorus_modulates_and_keeps_pitch():
    t = np.arange(2 * SR) / SR
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = apply(sine, dry(chorus_rate_hz=1.5, chorus_depth=0.5, chorus_mix=0.5))
    assert np.abs(y - sine).max() > 0.05
    assert dominant_hz(y[SR // 2:]) == pytest.approx(440, abs=3)


def test_noise_at_the_drawn_snr(pluck):
    t = np.arange(2 * SR) / SR
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = apply(sine, dry(noise_snr_db=20.0))
    snr = 10 * np.log10(np.mean(sine ** 2) / np.mean((y - sine) ** 2))
    assert snr == pytest.approx(20, abs=0.5)


def test_pitch_shift_of_samples_in_cents():
    t = np.arange(2 * SR) / SR
    sine = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = apply(sine, dry(pitch_shift_cents=30.0))
    assert dominant_hz(y[SR // 4: -SR // 4]) == pytest.approx(440 * 2 ** (30 / 1200), abs=2.0)


def test_time_stretch_moves_events(pluck):
    y = apply(pluck, dry(time_stretch_rate=0.8))  # slower: the note lasts longer
    env = lambda x: np.convolve(np.abs(x), np.ones(160) / 160, "same")  # noqa: E731
    thr = 0.05 * env(pluck).max()
    assert len(y) == len(pluck)
    assert np.nonzero(env(y) > thr)[0][-1] > 1.1 * np.nonzero(env(pluck) > thr)[0][-1]


def test_mp3_artefacts_grow_as_quality_drops(pluck):
    def error_db(q):
        y = apply(pluck, dry(mp3_vbr_quality=q))
        assert len(y) == len(pluck)
        return 10 * np.log10(np.sum((y - pluck) ** 2) / np.sum(pluck ** 2))

    good, bad = error_db(2.0), error_db(9.0)
    assert -60 < good < bad < 0


def test_peak_cap_records_output_gain(pluck):
    p = dry(gain_db=6.0, distortion_drive_db=30.0)
    y = apply(pluck, p)
    assert np.abs(y).max() <= 0.99 + 1e-6 and p["output_gain_db"] < 0


def test_pitch_shift_range_is_checked():
    from dub_dataset.effects import AugmentConfig

    assert AugmentConfig(max_pitch_shift_cents=400).max_pitch_shift_cents == 400
    for bad in (-1.0, 2401.0):
        with pytest.raises(ValueError, match="max_pitch_shift_cents"):
            AugmentConfig(max_pitch_shift_cents=bad)
