"""The trainer's batched log-mel features are ASTFeatureExtractor's, on real renders of any length."""

import numpy as np
import pytest

from conftest import SR, TIMGM
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import Preset, load_soundfont


@pytest.mark.parametrize("task", ["drums", "instrument"])
def test_log_mel_batch_matches_the_feature_extractor(task, small_fonts):
    from dub_models.classifier import feature_extractor
    from dub_models.features import MEL_FLOOR, log_mel_batch
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
    short = log_mel_batch([np.ones(100, np.float32)], fe)  # shorter than one 25 ms frame: one sounding frame, then silence
    floor = np.float32(np.log(MEL_FLOOR))
    assert np.isfinite(short).all() and (short[0, 0] > floor).any() and (short[0, 1:] == floor).all()


def test_short_clips_are_padded_with_silence_not_loud_log_mel_zeros(small_fonts):
    """A 0.6 s hit reads as the same hit followed by silence (what every training clip holds), not as
    AST's log-mel zeros (loud, steady frames: they made the shipped drums model call the bundled
    1.5 s hi-hat a snare); and the shipped folders load this extractor through the Auto classes."""
    from transformers import ASTFeatureExtractor, AutoFeatureExtractor

    import dub_models  # noqa: F401  (registers DubFeatureExtractor's name)
    from dub_models.classifier import WEIGHTS_DIR, feature_extractor
    from dub_models.features import DubFeatureExtractor, log_mel_batch
    from dub_models.tasks import get_task

    kit = load_soundfont(TIMGM).drum_kits()[0]
    hit = get_engine("fluidsynth", SR).render(TIMGM, kit, [Note(0, 0.1, 42, 100)], 0.6, drum=True)
    fe = feature_extractor(get_task("drums"))
    full = np.pad(hit, (0, 2 * SR - len(hit)))
    want = fe([full], sampling_rate=SR, return_tensors="np")["input_values"][0]
    got = fe([hit], sampling_rate=SR, return_tensors="np")["input_values"][0]
    assert isinstance(fe, DubFeatureExtractor) and np.abs(got - want).max() < 1e-5
    assert np.abs(log_mel_batch([hit], fe)[0] - want).max() < 1e-3
    ast = ASTFeatureExtractor(**fe.to_dict())([hit], sampling_rate=SR, return_tensors="np")["input_values"][0]
    assert np.abs(ast[100:] - want[100:]).min() > 0.5  # AST's padding is far louder than silence
    for task in ("drums", "instrument", "effects"):
        assert type(AutoFeatureExtractor.from_pretrained(WEIGHTS_DIR / task)) is DubFeatureExtractor


def test_ast_folders_name_the_plain_extractor_and_dub_still_pads_with_silence(tmp_path):
    """An AST model's folder stays loadable by plain transformers (no dub import): it names
    ``ASTFeatureExtractor``; dub's own loader reads it as ``DubFeatureExtractor``; a CNN's names its own."""
    import json
    import subprocess
    import sys

    from dub_models.classifier import feature_extractor
    from dub_models.features import DubFeatureExtractor, save_feature_extractor
    from dub_models.tasks import get_task

    fe = feature_extractor(get_task("drums"), mean=-11.0, std=4.0)
    save_feature_extractor(fe, tmp_path / "ast", "audio-spectrogram-transformer")
    save_feature_extractor(fe, tmp_path / "cnn", "dub-cnn")
    kinds = [json.loads((tmp_path / d / "preprocessor_config.json").read_text())["feature_extractor_type"] for d in ("ast", "cnn")]
    assert kinds == ["ASTFeatureExtractor", "DubFeatureExtractor"]
    back = DubFeatureExtractor.from_pretrained(tmp_path / "ast")
    assert (back.mean, back.std, back.max_length) == (fe.mean, fe.std, fe.max_length)
    plain = subprocess.run([sys.executable, "-c", "import sys; from transformers import AutoFeatureExtractor; "
                            "print(type(AutoFeatureExtractor.from_pretrained(sys.argv[1])).__name__); "
                            "print('dub_models' in sys.modules)", str(tmp_path / "ast")],
                           capture_output=True, text=True, check=True)
    assert plain.stdout.split() == ["ASTFeatureExtractor", "False"]
