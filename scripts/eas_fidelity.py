#!/usr/bin/env python
"""How closely Sonivox_EAS.sf2 (``dub eas-font``) played by dub's engines matches Sonivox EAS itself.

For each note (program, key, held seconds) and each kit key, the same note is rendered through
FluidSynth and TinySoundFont from the SoundFont and by the library directly (resampled to 16 kHz),
both scaled to the same RMS, and the mean absolute difference of their log-mel spectrograms is
printed in dB, over the bins where both sound within 50 dB of the louder one's peak.

Usage: python scripts/eas_fidelity.py [--font ~/.local/share/soundfonts/Sonivox_EAS.sf2]
"""

import argparse
from pathlib import Path

import numpy as np

SR = 16_000
NOTES = ((0, 57, 1.0), (0, 60, 1.0), (0, 60, 3.0), (19, 57, 3.0), (48, 62, 3.5), (40, 69, 2.0), (33, 40, 1.0),
         (73, 75, 3.0))  # (GM program, key, held s): piano, church organ, strings, violin, bass, flute
KIT_KEYS = (36, 38, 42, 45)


def logmel(x):
    import librosa

    x = x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)
    return 10 * np.log10(librosa.feature.melspectrogram(y=x, sr=SR, n_fft=512, hop_length=160, n_mels=64) + 1e-10)


def difference_db(a, b) -> float:
    a_mel, b_mel = logmel(a), logmel(b)
    n = min(a_mel.shape[1], b_mel.shape[1])
    a_mel, b_mel = a_mel[:, :n], b_mel[:, :n]
    both = np.minimum(a_mel, b_mel) > max(a_mel.max(), b_mel.max()) - 50
    return float(np.abs(a_mel - b_mel)[both].mean())


def main() -> None:
    import librosa

    from dub_dataset.render import Note, create_engine
    from dub_dataset.sonivox import eas_rate, render_eas_note
    from dub_dataset.soundfonts import load_soundfont

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--font", default=str(Path("~/.local/share/soundfonts/Sonivox_EAS.sf2").expanduser()))
    a = ap.parse_args()
    font = load_soundfont(a.font)
    presets, kit = {p.program: p for p in font.melodic()}, font.drum_kits()[0]

    def direct(*args, **kw):
        return librosa.resample(render_eas_note(*args, **kw), orig_sr=eas_rate(), target_sr=SR)

    print("engine         what            mean |log-mel difference| dB")
    for name in ("fluidsynth", "tinysoundfont"):
        eng = create_engine(name, sample_rate=SR, oversample=2)
        for program, key, hold in NOTES:
            x = eng.render(a.font, presets[program], [Note(0.0, hold, key, 100)], 4.0)
            y = direct(program, key, 100, hold_s=hold, tail_s=4.0 - hold)
            print(f"{name:14s} program {program:3d} key {key} held {hold:.1f} s  {difference_db(x, y):5.1f}")
        for key in KIT_KEYS:
            x = eng.render(a.font, kit, [Note(0.0, 0.1, key, 100)], 2.0, drum=True)
            y = direct(0, key, 100, hold_s=2.0, tail_s=0.0, drum=True)  # held: EAS damps a hit at its note-off
            print(f"{name:14s} kit key {key}                  {difference_db(x, y):5.1f}")


if __name__ == "__main__":
    main()
