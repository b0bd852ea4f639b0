"""Notes to a Standard MIDI File: one track per instrument with its GM program, drums on channel 10."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from dub_dataset.constants import DRUM_CHANNEL

from .notes import NoteEvent

TICKS_PER_BEAT = 480
# Effects written as controllers when estimated: reverb send, chorus send, brightness (filter cutoff)
EFFECT_CC = {"reverb": 91, "chorus": 93, "brightness": 74}


def _program_name(program: int) -> str:
    from pretty_midi.constants import INSTRUMENT_MAP

    return INSTRUMENT_MAP[program]


def to_midi(notes: list[NoteEvent], tempo_bpm: float = 120.0, effects: dict | None = None):
    """A type-1 ``mido.MidiFile``: a tempo track, then one track per (program | drums).

    ``effects``: optional {program or "drums": {"reverb": 0-1, "chorus": 0-1, "brightness": 0-1}},
    written as CC 91/93/74 at the start of each track.
    """
    import mido

    if not 20 <= tempo_bpm <= 400:
        raise ValueError(f"tempo must be within 20-400 BPM, got {tempo_bpm}")
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0))
    meta.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(meta)
    tempo = mido.bpm2tempo(tempo_bpm)

    def ticks(seconds: float) -> int:
        return int(round(mido.second2tick(max(0.0, seconds), TICKS_PER_BEAT, tempo)))

    groups: dict = defaultdict(list)
    for n in notes:
        groups["drums" if n.is_drum else n.program].append(n)
    channels = iter(c for c in range(16) if c != DRUM_CHANNEL)
    for key in sorted(groups, key=lambda k: (k == "drums", k if k != "drums" else 0)):
        track = mido.MidiTrack()
        if key == "drums":
            channel, name = DRUM_CHANNEL, "Drums"
        else:
            channel = next(channels, None)
            if channel is None:
                raise ValueError("more than 15 pitched instruments: MIDI has 15 non-drum channels")
            name = _program_name(key)
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        if key != "drums":
            track.append(mido.Message("program_change", channel=channel, program=key, time=0))
        for effect, value in ((effects or {}).get(key) or {}).items():
            track.append(mido.Message("control_change", channel=channel, control=EFFECT_CC[effect],
                                      value=int(round(min(1.0, max(0.0, value)) * 127)), time=0))
        events = []
        for n in groups[key]:
            on, off = ticks(n.onset_s), max(ticks(n.offset_s), ticks(n.onset_s) + 1)
            events.append((on, 1, n.pitch, n.velocity))
            events.append((off, 0, n.pitch, 0))
        now = 0
        for at, is_on, pitch, vel in sorted(events, key=lambda e: (e[0], e[1])):  # offs before ons
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=vel, time=at - now))
            now = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        mid.tracks.append(track)
    return mid


def write_midi(notes: list[NoteEvent], path: str | os.PathLike, **kwargs) -> Path:
    """Write atomically (temporary file, then rename). An empty note list gives a valid empty MIDI."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    to_midi(notes, **kwargs).save(tmp)
    os.replace(tmp, path)
    return path
