"""Note decoding on hand-made posteriorgrams; MIDI round trips through mido and pretty_midi."""

import mido
import numpy as np
import pretty_midi
import pytest

from dub_dataset.constants import DRUM_CLASSES
from dub_models.midi import write_midi
from dub_models.notes import PITCH_MIN, NoteEvent, decode_drums, decode_notes

FPS = 100


def roll(n_frames=300, n_pitches=88):
    return np.zeros((n_frames, n_pitches)), np.zeros((n_frames, n_pitches))


def test_decode_one_note_with_onset_offset_velocity():
    onset, frame = roll()
    k = 60 - PITCH_MIN
    onset[50, k] = 0.9
    onset[49, k], onset[51, k] = 0.4, 0.6  # a peak, not three onsets
    frame[50:150, k] = 0.8
    vel = np.full_like(onset, 0.5)
    notes = decode_notes(onset, frame, FPS, vel)
    assert notes == [NoteEvent(0.5, 1.5, 60, 64, 0)]


def test_repeated_notes_split_at_each_onset_and_thresholds_apply():
    onset, frame = roll()
    k = 64 - PITCH_MIN
    onset[[10, 60], k] = 0.8
    frame[10:120, k] = 0.9
    onset[200, k + 1] = 0.45  # below the onset threshold
    frame[200:240, k + 1] = 0.9
    notes = decode_notes(onset, frame, FPS)
    assert [(n.onset_s, n.offset_s, n.pitch) for n in notes] == [(0.1, 0.6, 64), (0.6, 1.2, 64)]
    assert len(decode_notes(onset, frame, FPS, onset_threshold=0.4)) == 3


def test_short_blips_are_dropped_and_shapes_checked():
    onset, frame = roll()
    onset[5, 10] = 0.9  # no frame support: 10 ms
    assert decode_notes(onset, frame, FPS, min_duration_s=0.03) == []
    with pytest.raises(ValueError, match="must be equal"):
        decode_notes(onset, frame[:, :10], FPS)


def test_decode_drums_per_class():
    on = np.zeros((200, len(DRUM_CLASSES)))
    on[20, DRUM_CLASSES.index("kick")] = 0.9
    on[70, DRUM_CLASSES.index("snare")] = 0.8
    on[70, DRUM_CLASSES.index("closed_hihat")] = 0.7
    hits = decode_drums(on, FPS)
    assert [(h.onset_s, h.pitch, h.is_drum) for h in hits] == [(0.2, 36, True), (0.7, 38, True), (0.7, 42, True)]


def test_midi_round_trip_programs_channel_10_velocities(tmp_path):
    notes = [NoteEvent(0.0, 0.5, 60, 100, 0), NoteEvent(0.5, 1.0, 64, 40, 0),
             NoteEvent(0.25, 1.25, 36, 90, 33), NoteEvent(0.0, 0.1, 36, 120, 0, True),
             NoteEvent(0.5, 0.6, 38, 70, 0, True)]
    path = write_midi(notes, tmp_path / "out.mid", tempo_bpm=100,
                      effects={0: {"reverb": 0.5}, "drums": {"chorus": 1.0}})
    mid = mido.MidiFile(path)
    names = [t.name for t in mid.tracks[1:]]
    assert names == ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums"]
    drum_msgs = [m for m in mid.tracks[3] if m.type == "note_on"]
    assert {m.channel for m in drum_msgs} == {9}
    assert any(m.type == "control_change" and m.control == 91 and m.value == 64 for m in mid.tracks[1])
    pm = pretty_midi.PrettyMIDI(str(path))
    by_prog = {(i.program, i.is_drum): i for i in pm.instruments}
    piano = by_prog[(0, False)]
    assert [(round(n.start, 3), round(n.end, 3), n.pitch, n.velocity) for n in piano.notes] == \
        [(0.0, 0.5, 60, 100), (0.5, 1.0, 64, 40)]
    assert [n.velocity for n in by_prog[(0, True)].notes] == [120, 70]
    assert by_prog[(33, False)].notes[0].end == pytest.approx(1.25, abs=1e-3)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(100)


def test_empty_note_list_gives_a_valid_midi(tmp_path):
    path = write_midi([], tmp_path / "empty.mid")
    assert len(mido.MidiFile(path).tracks) == 1 and pretty_midi.PrettyMIDI(str(path)).instruments == []
