"""The trainer's batched log-mel features are ASTFeatureExtractor's, on real renders of any length."""

import numpy as np
import pytest

from conftest import SR, TIMGM
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import Preset, load_soundfont


@pytest.mark.parametrize("task", ["drums", "instrument"])
def test_log_mel_batch_matches_the_feature_extractor(task, small_fonts):
    from dub_models.classifier import feature_extractor
    from dub_models.features import log_mel_batch
    from dub_models.tasks import get_task

    eng = get_engine("fluidsynth", SR)
    kit = load_soundfont(TIMGM).drum_kits()[0]
    clips = [eng.render(TIMGM, kit, [Note(0, 0.1, n, 100)], 2.0, drum=True) for n in (36, 38, 42, 49)]
    clips += [eng.render(TIMGM, Preset("Piano", 0, 0), [Note(0.2, 1.5, 60, 90)], s) for s in (0.5, 4.0, 6.0)]
    clips += [np.zeros(SR, np.float32), np.random.default_rng(0).standard_normal(401).astype(np.float32)]
    fe = feature_extractor(get_task(task), mean=-3.0, std=4.0)
    ref = fe(clips, sampling_rate=SR, return_tensors="np")["input_values"]
    got = log_mel_batch(clips, fe)
    assert got.shape == ref.shape == (len(clips), fe.max_length, 128) and got.dtype == np.float32
    assert np.abs(got - ref).max() < 1e-3 and np.abs(got - ref).mean() < 1e-5
    fe.do_normalize = False
    raw = log_mel_batch(clips, fe)
    assert np.abs(raw - fe(clips, sampling_rate=SR, return_tensors="np")["input_values"]).max() < 1e-2
    assert np.allclose((raw - fe.mean) / (2 * fe.std), got, atol=1e-5)
    short = log_mel_batch([np.ones(100, np.float32)], fe)  # shorter than one 25 ms frame: one padded frame
    assert np.isfinite(short).all() and np.count_nonzero(np.abs(short[0]).sum(1)) == 1
