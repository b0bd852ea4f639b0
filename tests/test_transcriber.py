"""The transcriber: targets and decoding (pure), mir_eval scoring, a tiny model trained by the
shared trainer on real rendered mixtures, `dub transcribe` end to end, bad input, flat memory."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from conftest import ffmpeg
from dub_models.evaluate import clip_counts, f1_scores
from dub_models.notes import NoteEvent
from dub_models.transcribe import FAMILY_PROGRAM, Posteriors, decode, estimate_tempo
from dub_models.transcriber import FPS, SLICES, note_targets

NOTES = [
    {"onset_s": 0.5, "offset_s": 1.5, "pitch": 60, "velocity": 100, "program": 0, "is_drum": False},  # piano
    {"onset_s": 0.5, "offset_s": 1.0, "pitch": 40, "velocity": 64, "program": 33, "is_drum": False},  # bass
    {"onset_s": 2.0, "offset_s": 2.6, "pitch": 72, "velocity": 30, "program": 73, "is_drum": False},  # flute: pipe
    {"onset_s": 1.0, "offset_s": 1.1, "pitch": 36, "velocity": 120, "program": -1, "is_drum": True},  # kick
    {"onset_s": 1.5, "offset_s": 1.6, "pitch": 42, "velocity": 80, "program": -1, "is_drum": True},  # closed hat
]


def posteriors_from_targets(y: np.ndarray) -> Posteriors:
    fam = y[:, SLICES["family"]]
    return Posteriors(FPS, y[:, SLICES["onset"]], y[:, SLICES["frame"]], y[:, SLICES["offset"]],
                      y[:, SLICES["velocity"]], np.where(fam < 0, 0, fam).astype(np.uint8),
                      y[:, SLICES["drum_onset"]], y[:, SLICES["drum_velocity"]])


def test_targets_mark_onsets_frames_offsets_velocity_family_and_drums():
    y = note_targets(NOTES, 150)
    assert y.shape == (150, 5 * 88 + 24)
    on, fr, off = y[:, SLICES["onset"]], y[:, SLICES["frame"]], y[:, SLICES["offset"]]
    assert on[25, 60 - 21] == 1 and on.sum() == 3
    assert fr[25:75, 60 - 21].all() and not fr[75, 60 - 21] and off[75, 60 - 21] == 1
    assert y[25, SLICES["velocity"]][60 - 21] == pytest.approx(100 / 127)
    assert y[30, SLICES["family"]][40 - 21] == 4  # bass family
    assert y[10, SLICES["family"]][40 - 21] == -1  # nothing sounds: ignored by the loss
    drums = y[:, SLICES["drum_onset"]]
    assert drums[50, 0] == 1 and drums[75, 4] == 1 and drums.sum() == 2  # kick, closed_hihat


def test_decoding_perfect_posteriors_gives_back_the_notes():
    notes = decode(posteriors_from_targets(note_targets(NOTES, 150)))
    pitched = [n for n in notes if not n.is_drum]
    drums = [n for n in notes if n.is_drum]
    assert [(n.onset_s, n.offset_s, n.pitch, n.program) for n in pitched] == [
        (0.5, 1.0, 40, FAMILY_PROGRAM["bass"]), (0.5, 1.5, 60, FAMILY_PROGRAM["piano"]), (2.0, 2.6, 72, FAMILY_PROGRAM["pipe"])]
    assert [n.velocity for n in pitched] == [64, 100, 30]
    assert [(n.onset_s, n.pitch, n.velocity) for n in drums] == [(1.0, 36, 120), (1.5, 42, 80)]
    assert decode(posteriors_from_targets(note_targets(NOTES, 150)), keep={"bass"})[0].pitch == 40
    assert len(decode(posteriors_from_targets(note_targets(NOTES, 150)), keep={"bass"})) == 1


def test_scores_perfect_shifted_and_wrong_family():
    ref = NOTES
    est = decode(posteriors_from_targets(note_targets(NOTES, 150)))
    s = f1_scores(clip_counts(ref, est))
    assert s["onset_f1"] == s["multi_instrument_f1"] == s["drums_f1"] == 1.0
    assert s["frame_f1"] > 0.95
    late = [NoteEvent(n.onset_s + 0.1, n.offset_s + 0.1, n.pitch, n.velocity, n.program, n.is_drum) for n in est]
    assert f1_scores(clip_counts(ref, late))["onset_f1"] == 0.0
    organ = [NoteEvent(n.onset_s, n.offset_s, n.pitch, n.velocity, 16, n.is_drum) for n in est]
    s = f1_scores(clip_counts(ref, organ))
    assert s["onset_f1"] == 1.0 and s["multi_instrument_f1"] == 0.0


def test_tempo_from_a_regular_pulse():
    y = note_targets([{"onset_s": i * 0.5, "offset_s": i * 0.5 + 0.1, "pitch": 36, "velocity": 100, "program": -1,
                       "is_drum": True} for i in range(20)], 500)
    assert estimate_tempo(posteriors_from_targets(y)) == pytest.approx(120, abs=2)


# -- a tiny model, trained by the shared trainer on real renders --------------------------------
@pytest.fixture(scope="module")
def mixtures(tmp_path_factory, small_fonts):
    from dub_dataset import Spec, generate

    out = tmp_path_factory.mktemp("mix")
    generate(Spec("mixtures", seed=3, soundfonts=small_fonts, images=()), 30, out, examples_per_file=10,
             progress=False)
    return out


@pytest.fixture(scope="module")
def tiny_transcriber(mixtures, tmp_path_factory):
    from dub_models.train import TrainArgs, training_function

    out = tmp_path_factory.mktemp("tr")
    res = training_function(TrainArgs(task="transcription", output_dir=str(out), dataset=str(mixtures), size="tiny",
                                      epochs=2, batch_size=8, lr=2e-3, tracker=None, num_threads=2))
    return out, res


def test_trainer_saves_a_registered_transcriber_with_card(tiny_transcriber):
    import torch
    from transformers import AutoConfig, AutoModel

    out, res = tiny_transcriber
    assert len(res["history"]) == 2 and res["history"][1]["loss/train"] < res["history"][0]["loss/train"]
    assert (out / "model.safetensors").exists() and "onset_f1" in res["test"]
    assert AutoConfig.from_pretrained(out).model_type == "dub-transcriber"
    card = (out / "README.md").read_text()
    assert "note onset F1" in card and "held-out" in card.lower()
    m1, m2 = AutoModel.from_pretrained(out).eval(), AutoModel.from_pretrained(out).eval()
    x = torch.randn(1, 401, 196) * 3 - 6
    with torch.no_grad():
        assert torch.equal(m1(input_values=x).onset_logits, m2(input_values=x).onset_logits)


def test_transcribe_cli_end_to_end_writes_the_notes_it_reports(tiny_transcriber, mixtures, tmp_path):
    from datasets import Audio, load_dataset

    out, _ = tiny_transcriber
    row = load_dataset(str(mixtures), "mixtures", split="test").cast_column("audio", Audio(decode=False))[0]
    flac = tmp_path / "clip.flac"
    flac.write_bytes(row["audio"]["bytes"])
    mp3 = tmp_path / "clip.mp3"
    ffmpeg("-i", str(flac), "-ar", "44100", "-ac", "2", str(mp3))  # another rate, stereo, mp3
    mid = tmp_path / "clip.mid"
    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "transcribe", str(mp3), "-o", str(mid), "--model",
                        str(out), "--json", "--onset-threshold", "0.2", "--tempo", "100"],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "CI": "1"})  # pyfluidsynth prints to stdout when $CI is set
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)  # stdout is the JSON and nothing else
    assert rep["duration_s"] == pytest.approx(8.0, abs=0.1) and rep["tempo_bpm"] == 100
    pm = pretty_midi.PrettyMIDI(str(mid))
    midi_notes = sorted((round(n.start, 2), n.pitch, n.velocity, i.is_drum) for i in pm.instruments for n in i.notes)
    json_notes = sorted((round(n["onset_s"], 2), n["pitch"], n["velocity"], n["is_drum"]) for n in rep["notes"])
    assert midi_notes == json_notes
    assert all(0 <= n[0] <= 8.0 for n in midi_notes)
    for inst in pm.instruments:  # drums on channel 10; each pitched track a family's program
        assert inst.name == "Drums" if inst.is_drum else inst.program in FAMILY_PROGRAM.values()
    assert len(mido.MidiFile(mid).tracks) == 1 + len(rep["tracks"])


@pytest.mark.parametrize("case", ["empty", "text", "truncated", "short", "silent", "eight_channels"])
def test_transcribe_bad_input(tiny_transcriber, tmp_path, case):
    out, _ = tiny_transcriber
    f = tmp_path / f"{case}.wav"
    if case == "empty":
        f.write_bytes(b"")
    elif case == "text":
        f = tmp_path / "notes.mp3"
        f.write_text("not audio at all\n" * 50)
    elif case == "truncated":
        good = tmp_path / "good.mp3"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=5", str(good))
        f = tmp_path / "truncated.mp3"
        f.write_bytes(good.read_bytes()[:300])
    elif case == "short":
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.05", str(f))
    elif case == "silent":
        ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3", str(f))
    else:
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=2:sample_rate=96000", "-ac", "8", str(f))
    mid = tmp_path / "out.mid"
    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "transcribe", str(f), "-o", str(mid), "--model", str(out)],
                       capture_output=True, text=True, timeout=300)
    if case in ("empty", "text"):
        assert r.returncode == 2 and str(f) in r.stderr and "Traceback" not in r.stderr
        assert not mid.exists()
        return
    if case == "truncated":  # FFmpeg decodes what is there, or we name the file
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr
        if r.returncode:
            assert str(f) in r.stderr
            return
    assert r.returncode == 0, r.stderr
    assert mido.MidiFile(mid).tracks  # a valid MIDI
    if case in ("short", "silent"):
        assert "empty MIDI" in r.stdout and len(mido.MidiFile(mid).tracks) == 1


def _peak_rss_mb(model: Path, audio: Path) -> float:
    code = ("import resource, sys; from dub_models.transcribe import load_transcriber, transcribe_file; "
            "n, p, d = transcribe_file(sys.argv[2], load_transcriber(sys.argv[1])); "
            "print(d, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    r = subprocess.run([sys.executable, "-c", code, str(model), str(audio)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    duration, rss = map(float, r.stdout.split())
    return duration, rss


def test_long_input_keeps_memory_flat(tiny_transcriber, tmp_path):
    out, _ = tiny_transcriber
    short, long = tmp_path / "short.mp3", tmp_path / "long.mp3"
    for path, seconds in ((short, 60), (long, 900)):
        ffmpeg("-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}:sample_rate=44100", "-ac", "2", str(path))
    d1, m1 = _peak_rss_mb(out, short)
    d2, m2 = _peak_rss_mb(out, long)
    assert d1 == pytest.approx(60, abs=0.1) and d2 == pytest.approx(900, abs=0.1)
    # 15x longer: posteriors grow by ~45 MB (float16); decoding it whole (44.1 kHz stereo float)
    # would add over 300 MB, and one attention pass over it many GB
    assert m2 - m1 < 120, (m1, m2)


def test_evaluate_cli_scores_held_out_clips(tiny_transcriber, mixtures):
    out, _ = tiny_transcriber
    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "evaluate", "--model", str(out), "--dataset", str(mixtures),
                        "--num-examples", "3", "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["examples"] == 3 and s["x_realtime"] > 1
    for m in ("onset", "onset_offset", "frame", "multi_instrument", "drums"):
        assert 0.0 <= s[f"{m}_f1"] <= 1.0
    assert s["onset_offset_f1"] <= s["onset_f1"] and s["multi_instrument_f1"] <= s["onset_f1"]
    # the same scores by the font playing each clip's drums: the clips add up, each named by its kit
    from dub_dataset import load_dub_dataset

    rows = load_dub_dataset(str(mixtures), "mixtures", split="test").select(range(3))
    want = Counter(" + ".join(sorted({t["soundfont"] for t in r["tracks"] if t["is_drum"]})) or "no drums"
                   for r in rows)
    assert {k: v["clips"] for k, v in s["by_drum_kit"].items()} == dict(want)
    # every reference drum hit is counted once, under its clip's kit
    assert sum(k["drum_hits"] for k in s["by_drum_kit"].values()) == sum(n["is_drum"] for r in rows for n in r["notes"])
    for k in s["by_drum_kit"].values():
        assert 0.0 <= k["drums_f1"] <= 1.0 and 0.0 <= k["onset_f1"] <= 1.0


def test_streamed_reading_matches_a_whole_decode(tmp_path):
    """Past AudioReader.IN_MEMORY_S the file streams through one FFmpeg pipe, in overlapping
    windows as the transcriber reads it: the samples equal a whole-file decode."""
    from dub_dataset.audio_io import AudioReader, load_audio

    f = tmp_path / "long.mp3"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=150:sample_rate=44100", "-ac", "2", str(f))
    whole = load_audio(f)
    r = AudioReader(f)
    assert not r._eof  # streaming, not in memory
    got, start = [], 0
    while True:
        x = r.read_samples(start, start + 128_000)
        got.append(x[:112_000])
        if len(x) < 128_000:
            break
        start += 112_000
    r.close()
    streamed = np.concatenate(got)
    assert len(streamed) == len(whole) and np.array_equal(streamed, whole)
