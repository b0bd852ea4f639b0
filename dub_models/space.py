"""dub's Gradio app: upload an mp3, get MIDI, see it and hear it; classify a sample; look at
spectrograms. ``dub app`` runs it on 127.0.0.1; ``spaces/app.py`` runs the same app as a
Hugging Face Space.

The API is usable from ``gradio_client``: ``/transcribe`` returns the MIDI file first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from dub_dataset.constants import GM_FAMILIES, SAMPLE_RATE, SILENCE_PEAK

MAX_FILE_MB = 40
MAX_DURATION_S = 600.0  # 10 minutes
AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif")
CONCURRENCY = 2  # transcriptions run at once; the others wait in the queue
QUEUE_SIZE = 64
OUTPUT_TTL_S = 3600  # our outputs (MIDI, previews) are deleted after an hour
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
PREVIEW_FONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2")
LIMITS = (f"Limits: audio files up to {MAX_FILE_MB} MB and {MAX_DURATION_S / 60:g} minutes "
          f"({', '.join(s[1:] for s in AUDIO_SUFFIXES[:5])} and more). {CONCURRENCY} transcriptions run at once; "
          "others wait in the queue.")

_lock = threading.Lock()
_models: dict = {}


def _model(key: str):
    """Models load once per process, on first use."""
    with _lock:
        if key not in _models:
            if key == "transcriber":
                from .transcribe import load_transcriber

                _models[key] = load_transcriber()
            else:
                from .classifier import load_pipeline, shipped_model

                _models[key] = load_pipeline(shipped_model(key))
        return _models[key]


def _error(message: str):
    import gradio as gr

    return gr.Error(message, print_exception=False)


def _output_dir() -> Path:
    """A fresh folder for one request's outputs; folders older than OUTPUT_TTL_S are removed."""
    root = Path(tempfile.gettempdir()) / "dub-space"
    root.mkdir(exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > OUTPUT_TTL_S:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:
            pass
    out = root / uuid.uuid4().hex
    out.mkdir()
    return out


def check_upload(path: str | None) -> tuple[str, float]:
    """(path, duration s) of an acceptable upload; a clear message otherwise."""
    from dub_dataset.audio_io import AudioError, audio_duration_s

    if not path:
        raise _error("No audio: upload or record a file first.")
    p = Path(path)
    name = p.name
    if p.suffix.lower() not in AUDIO_SUFFIXES:
        raise _error(f"{name}: not an audio file type dub reads ({', '.join(AUDIO_SUFFIXES)}).")
    size = p.stat().st_size if p.exists() else 0
    if size == 0:
        raise _error(f"{name}: the file is empty.")
    if size > MAX_FILE_MB * 1024 * 1024:
        raise _error(f"{name}: {size / 1e6:.0f} MB is over the {MAX_FILE_MB} MB limit.")
    try:
        duration = audio_duration_s(p)
    except AudioError as e:
        raise _error(f"{name}: not readable audio ({str(e).split(': ', 1)[-1][:160]}).") from None
    if duration > MAX_DURATION_S:
        raise _error(f"{name}: {duration / 60:.1f} minutes is over the {MAX_DURATION_S / 60:g}-minute limit.")
    return str(p), duration


def render_preview(midi_path: Path, out: Path) -> Path | None:
    """The MIDI rendered with FluidSynth (16 kHz WAV), to compare with the original by ear."""
    import warnings

    import pretty_midi
    import soundfile as sf

    font = next((f for f in PREVIEW_FONTS if Path(f).exists()), None)
    pm = pretty_midi.PrettyMIDI(str(midi_path))
    if font is None or not any(i.notes for i in pm.instruments):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audio = pm.fluidsynth(fs=SAMPLE_RATE, synthesizer=font)
    sf.write(out, (0.9 * audio).astype(np.float32), SAMPLE_RATE)
    return out


def detect_effects(audio: np.ndarray, max_windows: int = 6) -> list[list]:
    """Effect scores of the whole mix: the shipped effects classifier on up to ``max_windows``
    4 s windows spread over the file, averaged."""
    from .classifier import classify_arrays, label_thresholds

    pipe = _model("effects")
    th = label_thresholds(pipe.model.config)
    win = 4 * SAMPLE_RATE
    starts = np.linspace(0, max(0, len(audio) - win), num=min(max_windows, max(1, len(audio) // win))).astype(int)
    windows = [audio[s:s + win] for s in starts]
    totals: dict[str, float] = {}
    n = 0
    for r in classify_arrays(pipe, windows, top_k=pipe.model.config.num_labels, sample_rate=SAMPLE_RATE):
        if r["silent"]:
            continue
        n += 1
        for s in r["labels"]:
            totals[s["label"]] = totals.get(s["label"], 0.0) + s["score"]
    label2id = pipe.model.config.label2id
    rows = [[k, round(v / n, 3), "yes" if v / n >= th[label2id[k]] else ""] for k, v in totals.items()] if n else []
    return sorted(rows, key=lambda r: -r[1])


def transcribe(audio_path, instruments, sensitivity, tempo, progress=None):
    """The /transcribe endpoint: (MIDI file, piano roll, MIDI preview, tracks, effects, status)."""
    from dub_dataset.audio_io import AudioError, load_audio

    from .midi import write_midi
    from .notes import NoteEvent
    from .pianoroll import piano_roll
    from .transcribe import Thresholds, decode, estimate_tempo, posteriors_for_audio, track_summary

    path, duration = check_upload(audio_path)
    name = Path(path).name
    keep = set(instruments) if instruments else None
    if instruments is not None and not instruments:
        raise _error("No instrument selected: tick at least one under 'Instruments to keep'.")
    if not 0.0 <= float(sensitivity) <= 1.0:
        raise _error("Onset sensitivity must be between 0 and 1.")
    tempo = float(tempo or 0)
    if tempo and not 20 <= tempo <= 400:
        raise _error("Tempo must be 0 (estimate) or between 20 and 400 BPM.")
    if progress:
        progress(0.05, desc="reading audio")
    try:
        audio = load_audio(path, SAMPLE_RATE)
    except AudioError as e:
        raise _error(f"{name}: {str(e).split(': ', 1)[-1][:200]}") from None
    if audio.size < SAMPLE_RATE // 10:
        raise _error(f"{name}: shorter than 0.1 s: nothing to transcribe.")
    out = _output_dir()
    midi_path = out / (Path(name).stem + ".mid")
    if float(np.abs(audio).max()) <= SILENCE_PEAK:
        write_midi([], midi_path)
        return str(midi_path), None, None, [], [], f"**{name}**: silent (no sound above -80 dBFS): an empty MIDI."
    model = _model("transcriber")
    if progress:
        progress(0.2, desc="transcribing")
    t0 = time.perf_counter()
    post = posteriors_for_audio(model, lambda a, b: audio[a:b])
    th = Thresholds.of(model, onset=float(np.clip(1.0 - sensitivity, 0.05, 0.95)))
    notes: list[NoteEvent] = decode(post, th, tuple(model.config.families), keep)
    bpm = tempo or estimate_tempo(post)
    write_midi(notes, midi_path, tempo_bpm=bpm)
    took = time.perf_counter() - t0
    if progress:
        progress(0.7, desc="drawing and rendering")
    from PIL import Image

    roll_path = out / "pianoroll.png"
    Image.fromarray(piano_roll(notes, len(audio) / SAMPLE_RATE)).save(roll_path)
    preview = render_preview(midi_path, out / "midi_preview.wav")
    tracks = [[t["instrument"], t["family"], t["program"], t["notes"]] for t in track_summary(notes)]
    if progress:
        progress(0.85, desc="detecting effects")
    effects = detect_effects(audio)
    status = (f"**{name}**: {len(audio) / SAMPLE_RATE:.1f} s, {len(notes)} notes in {len(tracks)} tracks, "
              f"{bpm:g} BPM, transcribed in {took:.1f} s.")
    return str(midi_path), str(roll_path), str(preview) if preview else None, tracks, effects, status


def classify(audio_path, task):
    """The /classify endpoint: top labels of one sample with the zoo's shipped model."""
    from dub_dataset.audio_io import AudioError, load_audio

    from .classifier import classify_arrays

    path, _ = check_upload(audio_path)
    if task not in ("drums", "instrument", "effects"):
        raise _error(f"Unknown task {task!r}: choose drums, instrument or effects.")
    try:
        audio = load_audio(path, SAMPLE_RATE)
    except AudioError as e:
        raise _error(f"{Path(path).name}: {str(e).split(': ', 1)[-1][:200]}") from None
    pipe = _model(task)
    r = classify_arrays(pipe, [audio], top_k=5, sample_rate=SAMPLE_RATE)[0]
    if r["silent"]:
        raise _error(f"{Path(path).name}: silent (no sound above -80 dBFS): nothing to classify.")
    labels = r.get("families") if task == "instrument" else r["labels"]
    detail = ""
    if task == "instrument":
        detail = "GM program: " + ", ".join(f"{s['label']} {s['score']:.2f}" for s in r["labels"])
    elif task == "effects":
        detail = "Active (score at or above the label's threshold; dry and the effects exclude each other): " + (", ".join(r["active"]) or "none")
    return {s["label"]: float(s["score"]) for s in labels}, detail


def spectrograms(audio_path):
    """The /spectrograms endpoint: Hamming, Dolph-Chebyshev, peak spectrum and log-mel images."""
    from PIL import Image

    from dub_dataset.audio_io import AudioError, load_audio
    from dub_dataset.spectrogram import images

    path, _ = check_upload(audio_path)
    try:
        audio = load_audio(path, SAMPLE_RATE, 0.0, 30.0)  # the first 30 s
    except AudioError as e:
        raise _error(f"{Path(path).name}: {str(e).split(': ', 1)[-1][:200]}") from None
    out = _output_dir()
    kinds = ("hamming", "dolph", "peak", "logmel")
    titles = {"hamming": "DFT, Hamming window", "dolph": "DFT, Dolph-Chebyshev window", "peak": "peak spectrum",
              "logmel": "log-mel"}
    gallery = []
    for kind, pixels in images(audio, kinds, SAMPLE_RATE).items():
        p = out / f"{kind}.png"
        Image.fromarray(pixels).resize((min(1024, max(256, pixels.shape[1])), 256)).save(p)
        gallery.append((str(p), titles[kind]))
    return gallery


def examples() -> list[str]:
    return [str(p) for p in sorted(EXAMPLES_DIR.glob("song*.mp3"))]


def sample_examples() -> list[str]:
    return [str(EXAMPLES_DIR / n) for n in ("kick.wav", "snare.flac", "closed_hihat.mp3", "crash.ogg")
            if (EXAMPLES_DIR / n).exists()]


def build_demo():
    import gradio as gr

    def _transcribe(audio_path, instruments, sensitivity, tempo, progress=gr.Progress()):
        return transcribe(audio_path, instruments, sensitivity, tempo, progress)

    choices = [*GM_FAMILIES, "drums"]
    with gr.Blocks(title="dub: mp3 to MIDI", delete_cache=(1800, 3600)) as demo:
        gr.Markdown("# dub: style, instrument, notes, effects from an mp3\n"
                    "Upload or record audio: dub's transcriber writes a MIDI file (one track per instrument family, "
                    "drums on channel 10) and shows it. Models run on the CPU and ship with dub.\n\n" + LIMITS)
        with gr.Tab("Transcribe"):
            with gr.Row():
                with gr.Column():
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio",
                                        elem_id="audio-in")
                    instruments = gr.CheckboxGroup(choices, value=choices, label="Instruments to keep")
                    default = round(1.0 - float(getattr(_model("transcriber").config, "onset_threshold", 0.5)), 2)
                    sensitivity = gr.Slider(0.05, 0.95, value=default, step=0.05, label="Onset sensitivity",
                                            info="higher finds more, quieter notes")
                    tempo = gr.Number(0, label="Tempo (BPM; 0 = estimate)", minimum=0, maximum=400)
                    go = gr.Button("Transcribe", variant="primary", elem_id="transcribe-btn")
                with gr.Column():
                    status = gr.Markdown(elem_id="status")
                    midi_out = gr.File(label="MIDI", elem_id="midi-out")
                    roll = gr.Image(label="Piano roll (colour = instrument family; drums below)", type="filepath",
                                    elem_id="pianoroll")
                    preview = gr.Audio(label="MIDI rendered with FluidSynth (compare with the original)",
                                       type="filepath")
            tracks = gr.Dataframe(headers=["instrument", "family", "GM program", "notes"], label="Tracks",
                                  interactive=False)
            effects = gr.Dataframe(headers=["effect", "score", "detected"], label="Effects detected (whole mix)",
                                   interactive=False)
            ex = examples()
            if ex:
                gr.Examples(ex, inputs=audio_in, label="Bundled examples (click one, then Transcribe)")
            go.click(_transcribe, [audio_in, instruments, sensitivity, tempo],
                     [midi_out, roll, preview, tracks, effects, status], api_name="transcribe",
                     concurrency_limit=CONCURRENCY, concurrency_id="transcribe")
        with gr.Tab("Classify a sample"):
            with gr.Row():
                with gr.Column():
                    sample = gr.Audio(sources=["upload", "microphone"], type="filepath", label="A drum hit or a note")
                    task = gr.Radio(["drums", "instrument", "effects"], value="drums", label="Model")
                    go2 = gr.Button("Classify", variant="primary")
                with gr.Column():
                    labels = gr.Label(num_top_classes=5, label="Top labels")
                    detail = gr.Markdown()
            drum_examples = sample_examples()
            if drum_examples:
                gr.Examples(drum_examples, inputs=sample, label="Bundled drum hits")
            go2.click(classify, [sample, task], [labels, detail], api_name="classify", concurrency_limit=CONCURRENCY)
        with gr.Tab("Spectrograms"):
            spec_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio (first 30 s)")
            go3 = gr.Button("Show spectrograms", variant="primary")
            gallery = gr.Gallery(label="Hamming | Dolph-Chebyshev | peak spectrum | log-mel", columns=4, height="auto")
            go3.click(spectrograms, spec_in, gallery, api_name="spectrograms", concurrency_limit=CONCURRENCY)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    return demo


def launch(host: str = "127.0.0.1", port: int | None = None, **kw):
    import torch

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    demo = build_demo()
    return demo.launch(server_name=host, server_port=port, max_file_size=f"{MAX_FILE_MB}mb", show_error=True,
                       allowed_paths=[str(EXAMPLES_DIR)], **kw)
