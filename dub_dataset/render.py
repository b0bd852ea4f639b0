"""Offline SoundFont rendering, straight at the dataset's sample rate.

Two engines render the same note lists: FluidSynth (pyfluidsynth) and TinySoundFont. Their
interpolation, envelopes and filters differ, so the same preset sounds a little different in each:
timbre variety for training. Both have their own reverb and chorus off (FluidSynth) or absent
(TinySoundFont): every effect in a dub example comes from the augmentation step and is labelled.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from .constants import DRUM_BANK, DRUM_CHANNEL, ENGINES, MAX_PITCH_SHIFT_CENTS, SAMPLE_RATE
from .soundfonts import Preset, SoundFontError

PITCH_BEND_RANGE_CENTS = 200.0  # both engines' default pitch-wheel range: 2 semitones
FLUIDSYNTH_GAIN = 0.8  # matches TinySoundFont's 0 dB output level within ~1 dB


@dataclass(frozen=True)
class Note:
    """One note: onset and offset in seconds, MIDI pitch, MIDI velocity 1-127."""

    onset_s: float
    offset_s: float
    pitch: int
    velocity: int


class EngineError(RuntimeError):
    """A synthesis engine is missing or failed."""


class _Engine:
    """A synthesiser. ``oversample`` > 1 runs it at that multiple of ``sample_rate`` and resamples
    each render down with an anti-aliasing filter: neither FluidSynth nor TinySoundFont band-limits
    its sample interpolation, so at 16 kHz a hi-hat's energy above 8 kHz folds back below it (TimGM6mb's
    closed hi-hat: +18 dB under 2 kHz), which audio resampled from a recording never holds."""

    name = ""

    def __init__(self, sample_rate: int = SAMPLE_RATE, oversample: int = 1):
        if int(oversample) != oversample or oversample < 1:
            raise ValueError(f"oversample must be a whole number from 1, got {oversample!r}")
        self.sample_rate = sample_rate  # what render returns
        self.oversample = int(oversample)
        self.synth_rate = sample_rate * self.oversample  # what the synthesiser runs at
        self._fonts: dict[str, int] = {}

    def _sfid(self, path: str) -> int:
        if path not in self._fonts:
            try:
                sfid = self._load(path)
            except Exception as e:  # both bindings raise their own types
                raise SoundFontError(f"{path}: {self.name} could not load this SoundFont ({e})") from e
            if sfid is None or sfid < 0:
                raise SoundFontError(f"{path}: {self.name} could not load this SoundFont")
            self._fonts[path] = sfid
        return self._fonts[path]

    def render(self, font_path: str, preset: Preset, notes: list[Note], duration_s: float,
               drum: bool = False, bend_cents: float = 0.0) -> np.ndarray:
        """Mono float32 audio of ``duration_s`` seconds: ``notes`` played on ``preset``.

        ``bend_cents`` detunes the whole render through the pitch wheel (exact, no resampling).
        """
        n_out = int(round(duration_s * self.sample_rate))
        n_total = n_out * self.oversample
        chan = DRUM_CHANNEL if drum else 0
        self._select(chan, self._sfid(font_path), preset, drum)
        if abs(bend_cents) > MAX_PITCH_SHIFT_CENTS:
            raise ValueError(f"bend_cents={bend_cents:g}: at most {MAX_PITCH_SHIFT_CENTS:g} cents")
        # Beyond the default 2 semitones the wheel's range is widened for this render only, so
        # renders within it stay sample-identical to what they always were.
        wide = abs(bend_cents) > PITCH_BEND_RANGE_CENTS
        range_cents = float(np.ceil(abs(bend_cents) / 100.0) * 100.0) if wide else PITCH_BEND_RANGE_CENTS
        if wide:
            self._bend_range(chan, int(range_cents // 100))
        bend = int(round(np.clip(bend_cents / range_cents, -1, 1) * 8191))
        self._bend(chan, bend)
        events = sorted(
            [(int(round(n.onset_s * self.synth_rate)), 1, n) for n in notes]
            + [(int(round(n.offset_s * self.synth_rate)), 0, n) for n in notes],
            key=lambda e: (e[0], e[1]),  # note-offs before note-ons at the same sample
        )
        out = []
        pos = 0
        for at, is_on, note in events:
            at = min(max(at, pos), n_total)
            if at > pos:
                out.append(self._generate(at - pos))
                pos = at
            if is_on:
                self._on(chan, note.pitch, int(np.clip(note.velocity, 1, 127)))
            else:
                self._off(chan, note.pitch)
        if n_total > pos:
            out.append(self._generate(n_total - pos))
        self._silence(chan)
        self._bend(chan, 0)
        if wide:
            self._bend_range(chan, int(PITCH_BEND_RANGE_CENTS // 100))
        audio = np.concatenate(out) if out else np.zeros(0, np.float32)
        audio = audio[:n_total]
        if self.oversample > 1 and len(audio):
            from .audio_io import resample

            audio = resample(audio, self.synth_rate, self.sample_rate)[:n_out]
        return np.ascontiguousarray(audio, dtype=np.float32)


class FluidSynthEngine(_Engine):
    name = "fluidsynth"
    BLOCK = 64  # FLUID_BUFSIZE

    def __init__(self, sample_rate: int = SAMPLE_RATE, oversample: int = 1):
        super().__init__(sample_rate, oversample)
        self._clock = 0  # samples written since the synth was made
        try:
            import fluidsynth
        except (ImportError, OSError) as e:
            raise EngineError(
                "FluidSynth is not available: install libfluidsynth3 (apt) and pyfluidsynth "
                f"(scripts/setup.sh does both), or use --engine tinysoundfont ({e})"
            ) from e
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.restype = ctypes.c_int
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self._synth = fluidsynth.Synth(
            gain=FLUIDSYNTH_GAIN, samplerate=float(self.synth_rate),
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1,
               "synth.audio-channels": 1, "synth.polyphony": 256},
        )

    def _load(self, path):
        return self._synth.sfload(path, update_midi_preset=0)

    def _select(self, chan, sfid, preset, drum):
        if self._synth.program_select(chan, sfid, preset.bank, preset.program) != 0:
            raise SoundFontError(f"preset {preset.bank}:{preset.program} '{preset.name}' not found by fluidsynth")

    def _bend(self, chan, value):
        self._synth.pitch_bend(chan, value)

    def _bend_range(self, chan, semitones):
        for ctrl, val in ((101, 0), (100, 0), (6, semitones), (38, 0), (101, 127), (100, 127)):  # RPN 0
            self._synth.cc(chan, ctrl, val)

    def _on(self, chan, pitch, velocity):
        self._synth.noteon(chan, pitch, velocity)

    def _off(self, chan, pitch):
        self._synth.noteoff(chan, pitch)

    def _silence(self, chan):
        # A system reset returns every channel to its initial state: the next render does not
        # depend on what was rendered before (so the dataset does not depend on process count).
        # Voices ramp their gain from the last value their slot held: ramp every sounding voice
        # to 0 (volume 0 for two blocks), as in a fresh synth, then reset all channels.
        for c in range(16):
            self._synth.cc(c, 7, 0)
        self._generate(2 * self.BLOCK + (-self._clock) % self.BLOCK)
        self._synth.system_reset()
        # FluidSynth applies events at BLOCK-sample boundaries of its own output clock: keep the
        # clock block-aligned between renders, so every render starts at the same phase.
        self._generate(self.BLOCK + (-self._clock) % self.BLOCK)

    def _generate(self, n):
        self._clock += n
        # float output: FluidSynth's int16 writer dithers with a running index (history-dependent)
        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        ptr = ctypes.POINTER(ctypes.c_float)
        self._write_float(self._synth.synth, n, left.ctypes.data_as(ptr), 0, 1, right.ctypes.data_as(ptr), 0, 1)
        return (left + right) * np.float32(0.5)


class TinySoundFontEngine(_Engine):
    name = "tinysoundfont"

    def __init__(self, sample_rate: int = SAMPLE_RATE, oversample: int = 1):
        super().__init__(sample_rate, oversample)
        try:
            import tinysoundfont
        except ImportError as e:
            raise EngineError("tinysoundfont is not installed: pip install --no-deps tinysoundfont") from e
        self._synth = tinysoundfont.Synth(samplerate=self.synth_rate)

    def _load(self, path):
        return self._synth.sfload(path)

    def _select(self, chan, sfid, preset, drum):
        bank = 0 if preset.bank == DRUM_BANK else preset.bank
        try:
            self._synth.program_select(chan, sfid, bank, preset.program, is_drums=preset.bank == DRUM_BANK)
        except RuntimeError as e:
            raise SoundFontError(f"preset {preset.bank}:{preset.program} '{preset.name}': {e}") from e

    def _bend(self, chan, value):
        self._synth.pitchbend(chan, 8192 + value)

    def _bend_range(self, chan, semitones):
        self._synth.pitchbend_range(chan, float(semitones))

    def _on(self, chan, pitch, velocity):
        self._synth.noteon(chan, pitch, velocity)

    def _off(self, chan, pitch):
        self._synth.noteoff(chan, pitch)

    def _silence(self, chan):
        # sounds_off only fast-releases voices: render them out so the next render starts silent.
        self._synth.sounds_off(chan)
        self._synth.notes_off(chan)
        self._generate(self.synth_rate // 10)

    def _generate(self, n):
        stereo = np.frombuffer(self._synth.generate(n), dtype=np.float32)
        return stereo.reshape(-1, 2).mean(axis=1)


_ENGINE_CLASSES = {"fluidsynth": FluidSynthEngine, "tinysoundfont": TinySoundFontEngine}
_engines: dict[tuple[str, int, int], _Engine] = {}


def create_engine(name: str, sample_rate: int = SAMPLE_RATE, oversample: int = 1) -> _Engine:
    """A new engine, in its initial state (``oversample``: see ``_Engine``)."""
    if name not in _ENGINE_CLASSES:
        raise ValueError(f"unknown engine {name!r}: choose from {', '.join(ENGINES)}")
    return _ENGINE_CLASSES[name](sample_rate, oversample)


def get_engine(name: str, sample_rate: int = SAMPLE_RATE, oversample: int = 1) -> _Engine:
    """One shared engine per (name, rate, oversampling) per process: SoundFonts stay loaded between renders.

    TinySoundFont renders are independent of what it rendered before. FluidSynth's are not quite:
    a voice slot keeps some state from its last note (differences up to ~2e-3 in a render's first
    64-sample block), so dub_dataset makes a fresh FluidSynth engine for each unit of work.
    """
    key = (name, sample_rate, oversample)
    if key not in _engines:
        _engines[key] = create_engine(name, sample_rate, oversample)
    return _engines[key]


def available_engines() -> list[str]:
    names = []
    for name in ENGINES:
        try:
            get_engine(name)
            names.append(name)
        except EngineError:
            pass
    return names
