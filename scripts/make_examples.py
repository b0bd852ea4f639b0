#!/usr/bin/env python
"""Render the bundled example clips in examples/ (deterministic; TimGM6mb, GPL-2, the test-split
font: no shipped model heard these recordings in training)."""

from pathlib import Path
import subprocess

import numpy as np
import soundfile as sf

from dub_dataset.render import Note, create_engine
from dub_dataset.soundfonts import load_soundfont

FONT = "/usr/share/sounds/sf2/TimGM6mb.sf2"
OUT = Path(__file__).resolve().parent.parent / "examples"
HITS = {"kick.wav": 36, "snare.flac": 38, "closed_hihat.mp3": 42, "crash.ogg": 49}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    font = load_soundfont(FONT)
    kit = font.drum_kits()[0]
    for name, note in HITS.items():
        x = create_engine("fluidsynth", 44100).render(FONT, kit, [Note(0.0, 0.1, note, 110)], 1.5, drum=True)
        stereo = np.stack([x, x], axis=1)
        path = OUT / name
        if path.suffix in (".wav", ".flac"):
            sf.write(path, stereo, 44100, subtype="PCM_16")
        else:  # mp3, ogg through ffmpeg
            tmp = path.with_suffix(".tmp.wav")
            sf.write(tmp, stereo, 44100, subtype="PCM_16")
            codec = ["-c:a", "libmp3lame", "-b:a", "128k"] if path.suffix == ".mp3" else ["-c:a", "libvorbis", "-q:a", "4"]
            subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(tmp), *codec, "-map_metadata", "-1",
                            "-fflags", "+bitexact", str(path)], check=True)
            tmp.unlink()
        print(path, path.stat().st_size)


def song(seed: int = 11, index: int = 0, seconds: float = 16.0) -> None:
    """examples/song.mp3: a procedural multi-instrument clip from the ``mixtures`` test split
    (TimGM6mb: never heard by the shipped transcriber), with its reference notes as JSON."""
    import json

    from dub_dataset import Spec, make_maker
    from dub_dataset.audio_io import decode_audio_bytes

    maker = make_maker(Spec("mixtures", seed=seed, clip_s=seconds, images=()))
    row = maker.make("test", index)
    audio, sr = decode_audio_bytes(row["audio"]["bytes"])
    tmp = OUT / "song.tmp.wav"
    sf.write(tmp, audio, sr, subtype="PCM_16")
    path = OUT / "song.mp3"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(tmp), "-ar", "44100", "-ac", "2", "-c:a", "libmp3lame",
                    "-b:a", "128k", "-map_metadata", "-1", "-fflags", "+bitexact", str(path)], check=True)
    tmp.unlink()
    ref = {"tracks": [{k: t[k] for k in ("role", "program", "is_drum", "instrument", "soundfont")} for t in row["tracks"]],
           "tempo_bpm": row["tempo_bpm"], "notes": row["notes"]}
    (OUT / "song.notes.json").write_text(json.dumps(ref, indent=0))
    print(path, path.stat().st_size, [t["instrument"] for t in row["tracks"]])


if __name__ == "__main__":
    main()
    song()
