"""dub's transcriber vs Spotify's basic-pitch on the same held-out clips, in one run.

Renders N ``mixtures`` clips from the test split (SoundFonts never heard in training), writes
them as WAV files, transcribes each file with both tools (file in, notes out, timed), and prints
mir_eval F1s and speed (x realtime) side by side. Then the peak memory and speed of
``dub transcribe`` on a long file (1 h by default), in a child process.

    pip install -r requirements-bench.txt   # basic-pitch with its ONNX runtime (no TensorFlow)
    python scripts/bench_transcribe.py --num-examples 40 --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np


def render_clips(n: int, seed: int, split: str, folder: Path):
    import soundfile as sf

    from dub_models.evaluate import held_out_clips

    clips = []
    for i, (audio, ref) in enumerate(held_out_clips(None, split, n, seed)):
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, audio, 16000)
        clips.append((path, ref, len(audio) / 16000))
    return clips


def run_dub(clips, model_dir):
    from dub_models.evaluate import clip_counts, f1_scores
    from dub_models.transcribe import load_transcriber, transcribe_file

    model = load_transcriber(model_dir)
    transcribe_file(clips[0][0], model)  # warm-up
    counts, busy = Counter(), 0.0
    for path, ref, _ in clips:
        t = time.perf_counter()
        notes, _, _ = transcribe_file(path, model)
        busy += time.perf_counter() - t
        counts += clip_counts(ref, notes)
    return f1_scores(counts), busy


def run_basic_pitch(clips):
    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model, predict

    from dub_models.evaluate import clip_counts, f1_scores
    from dub_models.notes import NoteEvent

    model = Model(ICASSP_2022_MODEL_PATH)
    with contextlib.redirect_stdout(io.StringIO()):
        predict(str(clips[0][0]), model)  # warm-up
    counts, busy = Counter(), 0.0
    for path, ref, _ in clips:
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
            _, _, events = predict(str(path), model)
        busy += time.perf_counter() - t
        est = [NoteEvent(float(s), float(e), int(p), int(np.clip(round(a * 127), 1, 127))) for s, e, p, a, _ in events]
        counts += clip_counts(ref, est)
    return f1_scores(counts), busy


def long_file_memory(model_dir, hours: float, clips, folder: Path, threads: int) -> dict:
    """Loop the rendered clips into one long mp3 and transcribe it in a child process."""
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p, _, _ in clips))
    long = folder / "long.mp3"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-stream_loop", "-1", "-f", "concat", "-safe", "0", "-i",
                    str(listing), "-t", str(int(hours * 3600)), "-ac", "2", "-ar", "44100", "-b:a", "128k", str(long)],
                   check=True)
    code = ("import resource, sys, time, torch; torch.set_num_threads(int(sys.argv[3])); "
            "from dub_models.transcribe import load_transcriber, transcribe_file; m = load_transcriber(sys.argv[1] or None); "
            "t = time.perf_counter(); n, p, d = transcribe_file(sys.argv[2], m); t = time.perf_counter() - t; "
            "print(d, t, len(n), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    r = subprocess.run([sys.executable, "-c", code, str(model_dir or ""), str(long), str(threads)],
                       capture_output=True, text=True, check=True)
    duration, seconds, n_notes, rss = map(float, r.stdout.split()[-4:])
    return {"duration_s": duration, "x_realtime": duration / seconds, "notes": int(n_notes), "peak_rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-examples", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", help="transcriber folder (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--long-hours", type=float, default=1.0, help="0 skips the long-file memory check")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = render_clips(a.num_examples, a.seed, a.split, folder)
        seconds = sum(d for _, _, d in clips)
        print(f"{len(clips)} held-out {a.split} clips, {seconds:.0f} s of audio; torch threads {a.threads}")
        rows = {"dub": run_dub(clips, a.model)}
        try:
            rows["basic-pitch"] = run_basic_pitch(clips)
        except ImportError as e:
            print(f"basic-pitch not installed ({e}): pip install -r requirements-bench.txt")
        keys = ("onset_f1", "onset_offset_f1", "frame_f1", "multi_instrument_f1", "drums_f1")
        print(f"{'':12s} {'onset F1':>9s} {'on+off F1':>10s} {'frame F1':>9s} {'multi-inst':>11s} {'drums F1':>9s} {'x realtime':>11s}")
        figures = {}
        for name, (scores, busy) in rows.items():
            cells = []
            for k in keys:
                blind = name == "basic-pitch" and k in ("multi_instrument_f1", "drums_f1")
                cells.append("n/a" if blind else f"{scores[k]:.3f}")
            print(f"{name:12s} {cells[0]:>9s} {cells[1]:>10s} {cells[2]:>9s} {cells[3]:>11s} {cells[4]:>9s} {seconds / busy:>11.1f}")
            figures[name] = {**scores, "x_realtime": seconds / busy}
        if len(rows) == 2:
            print(f"speed ratio dub / basic-pitch: {figures['dub']['x_realtime'] / figures['basic-pitch']['x_realtime']:.2f}")
        if a.long_hours > 0:
            long = long_file_memory(a.model, a.long_hours, clips, folder, a.threads)
            print(f"long file: {long['duration_s'] / 3600:.2f} h mp3, dub transcribe {long['x_realtime']:.0f}x realtime, "
                  f"{long['notes']} notes, peak memory {long['peak_rss_mb']:.0f} MB")
            figures["long_file"] = long
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
