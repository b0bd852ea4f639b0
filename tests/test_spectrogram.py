import numpy as np
import pytest
from PIL import Image
import io

from conftest import SR, ffmpeg
from dub_dataset import spectrogram as S
from dub_dataset.constants import FRAMES_PER_S, N_FFT, N_MELS


def sine(hz, s=1.0, amp=0.5):
    t = np.arange(int(s * SR)) / SR
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_peak_spectrum_peaks_at_the_tone():
    pk = S.peak_spectrum_db(sine(1000))
    assert np.argmax(pk) * SR / N_FFT == pytest.approx(1000, abs=SR / N_FFT)


def test_dolph_has_lower_leakage_than_hamming():
    x = sine(1015.625)  # between... any tone; compare far-from-peak leakage
    far = lambda kind: np.median(S.amplitude_db(S.stft_magnitude(x, kind))[100:, 20:-20])  # noqa: E731
    near = lambda kind: S.amplitude_db(S.stft_magnitude(x, kind))[:, 50].max()  # noqa: E731
    assert near("dolph") - far("dolph") > near("hamming") - far("hamming") + 20


def test_frames_and_shapes():
    x = sine(440, 2.0)
    assert S.stft_magnitude(x).shape == (N_FFT // 2 + 1, 2 * FRAMES_PER_S + 1)
    assert S.log_mel(x).shape == (N_MELS, 2 * FRAMES_PER_S + 1)
    fb = S.mel_filterbank()
    assert fb.shape == (N_MELS, N_FFT // 2 + 1) and (fb.sum(axis=1) > 0).all()


def test_log_mel_follows_the_tone_up():
    low, high = (int(np.argmax(S.log_mel(sine(hz)).mean(axis=1))) for hz in (300, 3000))
    assert high > low + 30


@pytest.mark.parametrize("kind", ["logmel", "hamming", "dolph", "peak"])
def test_images_are_pngs_with_low_frequencies_at_the_bottom(kind):
    img = Image.open(io.BytesIO(S.png_bytes(S.image(sine(300), kind))))
    px = np.asarray(img)
    assert img.format == "PNG" and px.dtype == np.uint8
    if kind == "peak":
        col = int(300 / (SR / N_FFT))
        assert px[:, col].sum() > px[:, -10].sum()  # the tone's bar is tall, the top bins are not
    else:
        assert px[px.shape[0] // 2:].mean() > px[: px.shape[0] // 2].mean()


def test_cli_spectrogram_of_an_mp3(tmp_path):
    import soundfile as sf
    from dub_models.cli import main

    sf.write(tmp_path / "a.wav", sine(440, 1.5), SR)
    ffmpeg("-i", str(tmp_path / "a.wav"), "-ar", "44100", "-ac", "2", str(tmp_path / "song.mp3"))
    assert main(["spectrogram", str(tmp_path / "song.mp3"), "--kind", "dolph", "-o", str(tmp_path / "o.png")]) == 0
    img = np.asarray(Image.open(tmp_path / "o.png"))
    assert img.shape[0] == N_FFT // 2 + 1
    row = img.shape[0] - 1 - int(round(440 / (SR / N_FFT)))
    assert img[row, 20:-20].mean() > 200 and img[: row - 20, 20:-20].mean() < 60
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00garbage" * 50)
    assert main(["spectrogram", str(bad)]) == 2
