"""The mixtures config: polyphonic multi-instrument clips whose note labels match the audio."""

import json

import numpy as np

from conftest import SR
from dub_dataset import Spec, generate, make_maker
from dub_dataset.audio_io import decode_audio_bytes
from dub_dataset.effects import AugmentConfig
from dub_dataset.music import compose


def test_compose_is_seeded_and_in_range():
    a, bpm = compose(np.random.default_rng(3), 8.0)
    b, _ = compose(np.random.default_rng(3), 8.0)
    assert [(p.role, p.program, p.notes) for p in a] == [(p.role, p.program, p.notes) for p in b]
    assert 70 <= bpm <= 160
    for p in a:
        assert all(0 <= n.onset_s < n.offset_s <= 8.0 and 1 <= n.velocity <= 127 for n in p.notes)


def test_labelled_onsets_are_heard(small_fonts):
    maker = make_maker(Spec("mixtures", seed=4, soundfonts=small_fonts, images=(), augment=AugmentConfig.dry()))
    hop = SR // 100
    checked = 0
    for i in range(4):
        r = maker.make("train", i)
        x, _ = decode_audio_bytes(r["audio"]["bytes"])
        env = np.sqrt(np.convolve(x ** 2, np.ones(hop) / hop, "same"))
        assert r["tracks"] and r["notes"]
        for n in r["notes"]:
            assert 0 <= n["track"] < len(r["tracks"])
            assert n["is_drum"] == r["tracks"][n["track"]]["is_drum"]
        # the first onset: silence just before it, sound just after (mixtures start at t=0 or later)
        first = min(n["onset_s"] for n in r["notes"])
        after = env[int(first * SR) + hop: int(first * SR) + 5 * hop].max()
        assert after > 1e-3
        assert json.loads(r["tracks"][0]["effect_params"])["time_stretch_rate"] == 1.0
        checked += 1
    assert checked == 4


def test_mixtures_round_trip(tmp_path, small_fonts):
    from datasets import load_dataset

    generate(Spec("mixtures", seed=1, soundfonts=small_fonts, images=("logmel",), clip_s=4.0), 10, tmp_path,
             progress=False)
    ds = load_dataset(str(tmp_path), "mixtures")
    row = ds["train"][0]
    assert row["notes"] and {"onset_s", "offset_s", "pitch", "velocity", "program", "is_drum", "track"} <= set(row["notes"][0])
    assert row["audio"].get_all_samples().data.shape[-1] == 4 * SR


def test_mixtures_from_a_midi_folder(tmp_path, small_fonts):
    from dub_models.midi import write_midi
    from dub_models.notes import NoteEvent

    for k in range(3):
        notes = [NoteEvent(0.25 * i, 0.25 * i + 0.2, 60 + (i + k) % 12, 90, 40 + k) for i in range(40)]
        notes += [NoteEvent(0.5 * i, 0.5 * i + 0.1, 36, 100, 0, True) for i in range(20)]
        write_midi(notes, tmp_path / f"song{k}.mid")
    maker = make_maker(Spec("mixtures", seed=2, soundfonts=small_fonts, images=(), sample_dir=str(tmp_path), clip_s=4.0))
    rows = [maker.make("train", i) for i in range(8)]
    from_midi = [r for r in rows if r["source"].endswith(".mid")]
    assert from_midi and any(r["source"] == "procedural" for r in rows)
    r = from_midi[0]
    assert {t["is_drum"] for t in r["tracks"]} <= {True, False} and all(0 <= n["onset_s"] < 4.0 for n in r["notes"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"MThd garbage")
    import pytest

    maker = make_maker(Spec("mixtures", seed=0, soundfonts=small_fonts, images=(), sample_dir=str(bad), clip_s=4.0))
    with pytest.raises(ValueError, match="x.mid: not a readable MIDI file"):
        for i in range(6):
            maker.make("train", i)
