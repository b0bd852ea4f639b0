"""The shipped default models: they load like any Hugging Face classifier and do their job on
sounds they never heard (the bundled examples and renders of the test-split SoundFont)."""

from pathlib import Path

import numpy as np
import pytest

from conftest import SR, TIMGM
from dub_dataset.render import Note, create_engine
from dub_dataset.soundfonts import Preset
from dub_models.classifier import WEIGHTS_DIR, classify_files, load_pipeline

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def shipped(task):
    if not (WEIGHTS_DIR / task / "model.safetensors").exists():
        pytest.fail(f"no shipped {task} model in {WEIGHTS_DIR / task}")
    return WEIGHTS_DIR / task


# One GM key per drum class, as the drums config labels them (toms: the low floor, low-mid and high tom)
CLASS_KEYS = {36: "kick", 38: "snare", 37: "side_stick", 39: "clap", 42: "closed_hihat", 46: "open_hihat",
              41: "tom_low", 47: "tom_mid", 50: "tom_high", 49: "crash", 51: "ride", 56: "other_percussion"}


def test_shipped_drums_model_labels_the_bundled_hits_and_unheard_kits():
    """The bundled kick, snare and crash (TimGM6mb, never heard in training; WAV, FLAC, Ogg) are named
    right, and so are 30 of the 36 class keys of TimGM6mb's Standard, Power and TR 808 kits rendered
    dry. The bundled closed hi-hat (velocity 110, through MP3; 1.5 s, shorter than the model's 2 s
    clip) is named right by ``dub classify`` and by ``transformers.pipeline``: both pad it with silence
    (AST's log-mel zero padding made it a snare)."""
    from transformers import pipeline

    from dub_dataset.soundfonts import load_soundfont
    from dub_models.classifier import classify_arrays

    shipped("drums")
    files = [EXAMPLES / f for f in ("kick.wav", "snare.flac", "crash.ogg", "closed_hihat.mp3")]
    results = classify_files([str(f) for f in files], task="drums", top_k=12)
    assert [r["labels"][0]["label"] for r in results] == ["kick", "snare", "crash", "closed_hihat"]
    assert abs(sum(x["score"] for x in results[3]["labels"]) - 1) < 1e-3 and len(results[3]["labels"]) == 12
    plain = pipeline("audio-classification", model=str(shipped("drums")))(str(files[3]), top_k=1)
    assert plain[0]["label"] == "closed_hihat" and abs(plain[0]["score"] - results[3]["labels"][0]["score"]) < 1e-3
    pipe = load_pipeline(shipped("drums"))
    kits = {p.program: p for p in load_soundfont(TIMGM).drum_kits()}
    eng = create_engine("fluidsynth", SR)
    right = 0
    for program in (0, 16, 25):  # Standard, Power, TR 808
        clips = [eng.render(TIMGM, kits[program], [Note(0, 0.1, k, 100)], 2.0, drum=True) for k in CLASS_KEYS]
        got = [r["labels"][0]["label"] for r in classify_arrays(pipe, clips, top_k=1)]
        right += sum(g == want for g, want in zip(got, CLASS_KEYS.values()))
    assert right >= 30, right
    card = (WEIGHTS_DIR / "drums" / "README.md").read_text()
    assert "model-index" in card and "TimGM6mb" in card


def test_shipped_models_are_small_and_complete():
    for task in ("drums", "instrument", "effects"):
        folder = WEIGHTS_DIR / task
        if not folder.exists():
            continue
        for name in ("model.safetensors", "config.json", "preprocessor_config.json", "README.md", "confusion_matrix.png"):
            assert (folder / name).exists(), f"{task}/{name}"
        assert "(confusion_matrix.png)" in (folder / "README.md").read_text(), f"{task}: the card shows its matrix"
        assert (folder / "model.safetensors").stat().st_size < 20e6


def render(program, pitch=67, seconds=4.0):
    return create_engine("fluidsynth", SR).render(TIMGM, Preset("p", 0, program), [Note(0, 2.5, pitch, 100)], seconds)


def test_shipped_instrument_model_hears_families():
    pipe = load_pipeline(shipped("instrument"))
    from dub_models.classifier import classify_arrays

    # piano, organ, strings, brass, flute: one note each from the unseen TimGM6mb font
    expected = {0: "piano", 19: "organ", 48: "ensemble", 56: "brass", 73: "pipe"}
    res = classify_arrays(pipe, [render(p) for p in expected], top_k=3)
    hits = sum(exp in [f["label"] for f in r["families"]] for exp, r in zip(expected.values(), res))
    assert hits >= 3, [r["families"] for r in res]


def test_shipped_effects_model_hears_reverb_and_lowpass():
    from dub_dataset import effects
    from dub_models.classifier import classify_arrays

    pipe = load_pipeline(shipped("effects"))
    dry_note = render(0, 60)
    p = effects.draw(np.random.default_rng(0), effects.AugmentConfig.dry())
    wet = effects.apply(dry_note, SR, dict(p, reverb_room_size=0.9, reverb_damping=0.3, reverb_wet_level=0.6),
                        np.random.default_rng(0))
    res = classify_arrays(pipe, [dry_note, wet], top_k=8)
    score = [{s["label"]: s["score"] for s in r["labels"]} for r in res]
    assert score[1]["reverb"] > score[0]["reverb"] + 0.2
    # a label is active at its own threshold (picked on validation, in the config), not at 0.5
    th = pipe.model.config.label_thresholds
    assert set(th) == set(pipe.model.config.label2id) and any(t != 0.5 for t in th.values())
    def expected(sc, th):
        on = [k for k in sc if sc[k] >= th[k]]
        if "dry" in on and len(on) > 1:  # dry (no effect) and the effects exclude each other
            best = max((k for k in on if k != "dry"), key=lambda k: sc[k] - th[k])
            on = ["dry"] if sc["dry"] - th["dry"] > sc[best] - th[best] else [k for k in on if k != "dry"]
        return on

    for r, sc in zip(res, score):
        assert r["active"] == expected(sc, th)
    low = {k: 0.01 for k in th}  # dry and some effect over their thresholds on both clips
    pipe.model.config.label_thresholds = low
    both = classify_arrays(pipe, [dry_note, wet], top_k=8)
    assert all(sc["dry"] >= 0.01 and len([k for k in sc if sc[k] >= 0.01]) > 2 for sc in score)
    for r, sc in zip(both, score):
        assert r["active"] == expected(sc, low) and not ("dry" in r["active"] and len(r["active"]) > 1)
    assert "reverb" in both[1]["active"] and "dry" not in both[1]["active"]
    pipe.model.config.label_thresholds = {**th, "reverb": 0.999}
    assert "reverb" not in classify_arrays(pipe, [wet], top_k=8)[0]["active"]


def test_shipped_transcriber_hears_the_bundled_song(tmp_path):
    """examples/song.mp3 is a mixtures clip rendered with TimGM6mb (never heard in training):
    strings, bass, guitar and a brush kit, with its reference notes in song.notes.json."""
    import json

    import pretty_midi

    from dub_models.evaluate import clip_counts, f1_scores
    from dub_models.transcribe import transcribe_to_midi

    ref = json.loads((EXAMPLES / "song.notes.json").read_text())["notes"]
    mid = tmp_path / "song.mid"
    rep = transcribe_to_midi(EXAMPLES / "song.mp3", mid)
    from dub_models.notes import NoteEvent

    s = f1_scores(clip_counts(ref, [NoteEvent(**n) for n in rep["notes"]]))
    # an untrained transcriber scores ~0 on all of these
    assert s["onset_f1"] > 0.2 and s["frame_f1"] > 0.4 and s["drums_f1"] > 0.5, s
    pm = pretty_midi.PrettyMIDI(str(mid))
    assert any(i.is_drum for i in pm.instruments) and sum(not i.is_drum for i in pm.instruments) >= 2
    assert "bass" in {t["family"] for t in rep["tracks"]}
