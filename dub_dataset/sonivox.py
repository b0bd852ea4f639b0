"""The Sonivox EAS General MIDI synthesiser (Android's, Apache-2.0) rendered into a SoundFont.

Sonivox EAS (Sonic Network's Embedded Audio Synthesis, the MIDI synthesiser of Android; Debian
``libsonivox3``) carries its own GM wavetable in the library: 128 melodic programs and a drum kit
made for a phone, a bank none of the SoundFonts dub trains on derives from. Its kit tunes its toms
like the small GM banks do (dominant frequency 82-195 Hz on keys 41-50, TimGM6mb's 87-160 Hz;
FluidR3's sit at 55-117 Hz), which no training kit did.

``render_eas_note`` plays one note through the library (``ctypes``; EAS's own reverb and chorus
bypassed, so every effect in a dub example stays the labelled augmentation's) at EAS's rate, 22,050
Hz. ``eas_instruments`` samples every program every ``step`` semitones over its family's range at
velocity 100, and every key of the GM percussion map on the kit. A note that holds its level (an
organ, a string pad) is stored with a loop: a second or more of its sustain, the loop's end found
where the waveform matches its start and cross-faded into it, so the engines hold it as long as the
key is down. A note that decays (a piano, a plucked string, a drum) is stored until it falls 60 dB
below its peak (at most ``MAX_SAMPLE_S``). ``eas_to_soundfont`` writes ``Sonivox_EAS.sf2``: the
bank-0 presets and the bank-128 kit, played by both of dub's engines like any other font.

EAS has no random element: the same arguments render the same bytes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from .constants import DRUM_BANK, DRUM_NOTES, FAMILY_PITCH_RANGE, GM_FAMILIES, PROGRAMS_PER_FAMILY

LIBRARY = "libsonivox.so.3"
HOLD_S = 4.0  # a melodic note is held this long, then released
TAIL_S = 0.6
DRUM_S = 2.5  # a drum hit is held this long (EAS damps a hit at its note-off), then cut where it has died away
MIN_PEAK = 1e-3  # a note whose peak is under this did not sound
PEAK = 0.8  # each instrument (and the kit) is scaled so its loudest stored note peaks here, levels between notes kept
MAX_SAMPLE_S = 4.5
LOOP_START_S = 1.0  # a sustained note's loop starts here (past every attack)
LOOP_LEN_S = (0.5, 0.7)  # and is this long
MATCH_N = 256  # samples compared to place the loop's end
FADE_N = 441  # cross-fade into the loop's start (20 ms at 22,050 Hz)
RELEASE_S = 0.25  # where EAS's release could not be measured
RELEASE_PROBE_S = 0.5  # the note that measures a program's release is held this long
_MODULE_REVERB, _MODULE_CHORUS, _PARAM_BYPASS = 2, 3, 0  # eas.h, eas_reverb.h, eas_chorus.h


class SonivoxError(RuntimeError):
    """libsonivox is missing or one of its calls failed."""


class _Config(ctypes.Structure):  # S_EAS_LIB_CONFIG (eas.h)
    _fields_ = [("libVersion", ctypes.c_ulong), ("checkedVersion", ctypes.c_long), ("maxVoices", ctypes.c_long),
                ("numChannels", ctypes.c_long), ("sampleRate", ctypes.c_long), ("mixBufferSize", ctypes.c_long),
                ("filterEnabled", ctypes.c_long), ("buildTimeStamp", ctypes.c_ulong), ("buildGUID", ctypes.c_char_p)]


@lru_cache(maxsize=1)
def _lib():
    name = ctypes.util.find_library("sonivox") or LIBRARY
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise SonivoxError(f"libsonivox not found ({e}): install Debian's libsonivox3 (scripts/setup.sh does)") from e
    lib.EAS_Config.restype = ctypes.POINTER(_Config)
    for f in ("EAS_Init", "EAS_Shutdown", "EAS_OpenMIDIStream", "EAS_WriteMIDIStream", "EAS_CloseMIDIStream",
              "EAS_Render", "EAS_SetParameter"):
        getattr(lib, f).restype = ctypes.c_long
    lib.EAS_SetParameter.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_long]
    lib.EAS_WriteMIDIStream.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
    lib.EAS_Render.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long, ctypes.POINTER(ctypes.c_long)]
    return lib


def eas_config() -> dict:
    """The library's build: version, sample rate, channels, voices."""
    c = _lib().EAS_Config().contents
    v = c.libVersion
    return {"version": f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", "sample_rate": int(c.sampleRate),
            "channels": int(c.numChannels), "max_voices": int(c.maxVoices), "buffer": int(c.mixBufferSize)}


def eas_rate() -> int:
    return eas_config()["sample_rate"]


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SonivoxError(f"libsonivox: {what} failed (EAS error {result})")


def render_eas_note(program: int, note: int, velocity: int = 100, hold_s: float = HOLD_S, tail_s: float = TAIL_S,
                    drum: bool = False) -> np.ndarray:
    """One note of GM ``program`` (or, with ``drum``, one key of the kit on MIDI channel 10): held
    ``hold_s`` seconds, then released and rendered ``tail_s`` more, as float32 mono at ``eas_rate()``.
    A fresh synthesiser plays each note, so nothing of an earlier note rings into it."""
    if not 0 <= program <= 127 or not 0 <= note <= 127 or not 1 <= velocity <= 127:
        raise ValueError(f"program {program}, note {note}, velocity {velocity}: MIDI values are 0-127 (velocity 1-127)")
    lib, cfg = _lib(), eas_config()
    data, stream = ctypes.c_void_p(), ctypes.c_void_p()
    _check(lib.EAS_Init(ctypes.byref(data)), "EAS_Init")
    try:
        for module in (_MODULE_REVERB, _MODULE_CHORUS):
            _check(lib.EAS_SetParameter(data, module, _PARAM_BYPASS, 1), "bypassing its reverb and chorus")
        _check(lib.EAS_OpenMIDIStream(data, ctypes.byref(stream), None), "EAS_OpenMIDIStream")
        buf = (ctypes.c_short * (cfg["buffer"] * cfg["channels"]))()
        got = ctypes.c_long()

        def send(*msg: int) -> None:
            b = (ctypes.c_ubyte * len(msg))(*msg)
            _check(lib.EAS_WriteMIDIStream(data, stream, b, len(msg)), "EAS_WriteMIDIStream")

        def render(seconds: float) -> list[np.ndarray]:
            out = []
            for _ in range(max(1, math.ceil(seconds * cfg["sample_rate"] / cfg["buffer"]))):
                _check(lib.EAS_Render(data, buf, cfg["buffer"], ctypes.byref(got)), "EAS_Render")
                out.append(np.frombuffer(buf, dtype=np.int16, count=got.value * cfg["channels"]).copy())
            return out

        channel = 9 if drum else 0
        if not drum:
            send(0xC0 | channel, program)
        send(0x90 | channel, note, velocity)
        pcm = render(hold_s)
        send(0x80 | channel, note, 0)
        pcm += render(tail_s)
        _check(lib.EAS_CloseMIDIStream(data, stream), "EAS_CloseMIDIStream")
    finally:
        lib.EAS_Shutdown(data)
    x = np.concatenate(pcm).reshape(-1, cfg["channels"]).astype(np.float32) / 32768.0
    return x.mean(axis=1)


def _sustains(x: np.ndarray, rate: int) -> bool:
    """Whether a held note keeps its level: the RMS of its 2.0-2.5 s within 6 dB of its 0.6-1.1 s."""
    def rms(a, b):
        seg = x[int(a * rate): int(b * rate)]
        return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if len(seg) else 0.0

    early, late = rms(0.6, 1.1), rms(2.0, 2.5)
    return early > 0 and late >= 0.5 * early


def release_s(x: np.ndarray, rate: int, off_s: float) -> float | None:
    """How long EAS's release of this note takes to fall 100 dB (a SoundFont release time): the slope
    of its level in 10 ms frames over the 300 ms after the note-off ``off_s``, where it is within 80
    dB of the note's peak; None where fewer than 5 such frames remain."""
    frame = int(0.01 * rate)
    seg = x[int((off_s + 0.02) * rate): int((off_s + 0.3) * rate)].astype(np.float64)
    n = len(seg) // frame
    level = 10 * np.log10(np.mean(seg[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-30)
    floor = 20 * math.log10(float(np.abs(x).max()) + 1e-30) - 80
    keep = np.nonzero(level > floor)[0]
    if len(keep) < 5:
        return None
    fall_per_s = -np.polyfit(keep * 0.01, level[keep], 1)[0]
    return float(min(20.0, max(0.01, 100.0 / max(fall_per_s, 1e-3))))


def loop_points(x: np.ndarray, rate: int) -> tuple[int, int]:
    """A loop [start, end) in a sustained note: start at ``LOOP_START_S``, end where the ``MATCH_N``
    samples before it best match (normalised correlation) the ``MATCH_N`` before the start, within
    ``LOOP_LEN_S`` of it."""
    start = int(LOOP_START_S * rate)
    ref = x[start - MATCH_N: start].astype(np.float64)
    lo, hi = start + int(LOOP_LEN_S[0] * rate), start + int(LOOP_LEN_S[1] * rate)
    if hi > len(x):
        raise ValueError(f"a note of {len(x) / rate:.2f} s is too short to loop")
    win = np.lib.stride_tricks.sliding_window_view(x[lo - MATCH_N: hi].astype(np.float64), MATCH_N)
    score = win @ ref / (np.linalg.norm(win, axis=1) * np.linalg.norm(ref) + 1e-12)
    return start, lo + int(np.argmax(score))


def looped_sample(x: np.ndarray, rate: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The note cut after its loop, the loop's last ``FADE_N`` samples cross-faded into those before
    its start (so playback runs on across the jump), and a short fade after it for the release."""
    start, end = loop_points(x, rate)
    y = x[: end + FADE_N].astype(np.float64).copy()
    w = np.linspace(0.0, 1.0, FADE_N)
    y[end - FADE_N: end] = (1 - w) * y[end - FADE_N: end] + w * x[start - FADE_N: start]
    y[end:] *= np.linspace(1.0, 0.0, len(y) - end)
    return y, (start, end)


def trimmed_sample(x: np.ndarray, rate: int) -> np.ndarray:
    """A decaying note up to where it falls 60 dB below its peak (at most ``MAX_SAMPLE_S``), faded out."""
    loud = np.nonzero(np.abs(x) > np.abs(x).max() * 1e-3)[0]
    end = min(int(MAX_SAMPLE_S * rate), int(loud[-1]) + 1 + int(0.01 * rate))
    y = x[:end].astype(np.float64).copy()
    fade = min(len(y), int(0.05 * rate))
    y[len(y) - fade:] *= np.linspace(1.0, 0.0, fade)
    return y


def eas_instruments(programs=None, step: int = 6, drums: bool = True, report: list[str] | None = None) -> list:
    """``sf2write.Instrument``s of EAS's GM set: ``programs`` (default all 128) sampled every ``step``
    semitones over their family's range, and (with ``drums``) the kit over the GM percussion keys.
    ``report`` collects the notes left out and why."""
    from .features import gm_program_names
    from .multisample import key_ranges
    from .sf2write import GEN_RELEASE_VOL, MAX_TIMECENTS, Instrument, Zone, timecents

    report = [] if report is None else report
    programs = list(range(128)) if programs is None else list(programs)
    if step < 1:
        raise ValueError(f"step must be at least 1 semitone, got {step}")
    rate, names = eas_rate(), gm_program_names()
    out = []
    for p in programs:
        lo, hi = FAMILY_PITCH_RANGE[GM_FAMILIES[p // PROGRAMS_PER_FAMILY]]
        takes = []
        # the release is measured on a short note in the middle of the range (a long one may have died away)
        mid = lo + (hi - lo) // 2
        release = release_s(render_eas_note(p, mid, hold_s=RELEASE_PROBE_S, tail_s=1.0), rate, RELEASE_PROBE_S)
        for note in range(lo, hi + 1, step):
            x = render_eas_note(p, note)
            peak = float(np.abs(x).max())
            if peak < MIN_PEAK:
                report.append(f"{p:03d} {names[p]} note {note}: left out (silent, peak {peak:.1e})")
                continue
            if _sustains(x, rate):
                y, loop = looped_sample(x, rate)
                takes.append((note, y, loop))
            else:
                takes.append((note, trimmed_sample(x, rate), None))
        if not takes:
            report.append(f"{p:03d} {names[p]}: left out (no note sounds)")
            continue
        roots, scale = [t[0] for t in takes], PEAK / max(float(np.abs(t[1]).max()) for t in takes)
        release = {GEN_RELEASE_VOL: timecents(RELEASE_S if release is None else release)}
        zones = []
        for key_range, (root, y, loop) in zip(key_ranges(roots), takes):
            zones.append(Zone(samples=y * scale, rate=rate, key_range=key_range, root_key=root, correction_cents=0,
                              loop=loop, name=f"EAS{p:03d} {root}", generators=dict(release)))
        out.append(Instrument(name=names[p], program=p, zones=zones))
    if drums:
        zones = []
        for key in DRUM_NOTES:
            x = render_eas_note(0, key, hold_s=DRUM_S, tail_s=0.1, drum=True)  # held: EAS damps a hit at its note-off
            if float(np.abs(x).max()) < MIN_PEAK:
                report.append(f"kit key {key}: left out (silent)")
                continue
            # the zone's release is the longest there is: a hit plays out whenever its note-off comes
            zones.append(Zone(samples=trimmed_sample(x, rate), rate=rate, key_range=(key, key), root_key=key,
                              correction_cents=0, name=f"EAS kit {key}", generators={GEN_RELEASE_VOL: MAX_TIMECENTS}))
        if zones:
            scale = PEAK / max(float(np.abs(z.samples).max()) for z in zones)
            for z in zones:
                z.samples = z.samples * scale
            out.append(Instrument(name="Standard", program=0, zones=zones, bank=DRUM_BANK))
    if not out:
        raise ValueError("EAS sounded no program: nothing to write")
    return out


def eas_to_soundfont(out: str | Path, step: int = 6, programs=None, drums: bool = True,
                     report: list[str] | None = None) -> Path:
    """Render EAS's GM set and write it as one SoundFont (``Sonivox EAS``), atomically."""
    from .sf2write import write_soundfont

    instruments = eas_instruments(programs, step, drums, report)  # checks its arguments before loading the library
    cfg = eas_config()
    return write_soundfont(out, "Sonivox EAS", instruments,
                           comment=f"Sonivox EAS {cfg['version']} GM set (Apache-2.0), rendered by dub eas-font "
                                   f"every {step} semitones at {cfg['sample_rate']} Hz")
