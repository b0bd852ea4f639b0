"""The trainer's batched log-mel features are ASTFeatureExtractor's, on real renders of any length."""

import warnings

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


def test_a_32_khz_extractor_frames_in_milliseconds_and_hears_above_8_khz(tmp_path):
    """At 32 kHz the features keep AST's shape (25 ms frames every 10 ms: 198 frames for 2 s) and a
    tone sits in the mel bin of its frequency on that rate's scale; a real TimGM6mb closed hi-hat puts
    its energy in the bins above 8 kHz, which a 16 kHz model cannot have, while a kick leaves them
    near silence. The folder names dub's extractor (AST's own would frame 32 kHz audio in 12.5 ms)."""
    import json

    from dub_dataset.audio_io import resample
    from dub_models.classifier import feature_extractor
    from dub_models.features import DubFeatureExtractor, framing, log_mel_batch, save_feature_extractor
    from dub_models.tasks import get_task

    assert framing(16000) == (400, 160, 512) and framing(32000) == (800, 320, 1024)
    fe16, fe32 = (feature_extractor(get_task("drums"), sample_rate=r) for r in (16000, 32000))
    for fe in (fe16, fe32):
        fe.do_normalize = False
    rate = 32000
    kit = load_soundfont(TIMGM).drum_kits()[0]
    eng = get_engine("fluidsynth", rate)
    hat, kick = (eng.render(TIMGM, kit, [Note(0, 0.1, n, 100)], 2.0, drum=True) for n in (42, 36))
    feats = fe32([hat, kick], sampling_rate=rate, return_tensors="np")["input_values"]
    assert feats.shape == (2, 198, 128)
    assert np.abs(feats - log_mel_batch([hat, kick], fe32)).max() < 1e-2
    def centres(hi):  # the kaldi mel bins' centre frequencies, 20 Hz to hi
        return 700 * (np.exp(np.linspace(1127 * np.log1p(20 / 700), 1127 * np.log1p(hi / 700), 130) / 1127) - 1)[1:-1]

    top = centres(16000) > 8000  # the bins whose centre lies above 16 kHz audio's Nyquist frequency
    assert top.sum() == 26  # of 128: the kaldi mel scale gives the octave above 8 kHz a fifth of the bins
    hat_top, kick_top = (np.log(np.exp(f[:20, top]).sum()) for f in feats)
    assert hat_top > kick_top + 5  # e^5: 22 dB more energy above 8 kHz in the hi-hat's first 200 ms
    # a 1 kHz tone lands on the bin whose centre is nearest 1 kHz, at either rate
    for fe, sr, hi in ((fe16, 16000, 8000), (fe32, 32000, 16000)):
        tone = np.sin(2 * np.pi * 1000 * np.arange(2 * sr) / sr).astype(np.float32)
        assert abs(int(log_mel_batch([tone], fe)[0].mean(0).argmax()) - int(np.abs(centres(hi) - 1000).argmin())) <= 1
    # the same hit resampled to 16 kHz, through the 16 kHz extractor: nothing above 8 kHz to show
    assert fe16([resample(hat, rate, 16000)], sampling_rate=16000, return_tensors="np")["input_values"].shape == (1, 198, 128)
    save_feature_extractor(fe32, tmp_path, "audio-spectrogram-transformer")
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["feature_extractor_type"] == "DubFeatureExtractor" and saved["sampling_rate"] == 32000
    with warnings.catch_warnings():  # loading says nothing about the parent's empty 16 kHz filters it replaces
        warnings.simplefilter("error")
        back = DubFeatureExtractor.from_pretrained(tmp_path)
    assert np.array_equal(back.mel_filters, fe32.mel_filters) and back.mel_filters.shape == (513, 128)
