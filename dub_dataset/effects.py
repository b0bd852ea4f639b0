"""Augmentation: slight distortion of the sample, then effects, every parameter a label.

Each effect draws its parameters from an explicit ``numpy.random.Generator`` into a flat dict
(``draw``), then applies exactly those parameters (``apply``). The dict's keys are dataset
columns; an effect that is off writes its neutral value (a no-op value such as ``wet 0``, or
``None`` where no value means "off"), so every example has every column.

Back-ends, chosen for speed on a 4 s, 16 kHz clip (scripts/bench_generate.py):
pedalboard for reverb, delay, chorus, distortion and mp3; scipy 4th-order Butterworth filters
(pedalboard's are first order); audiomentations' signalsmith back-end for time stretch and for
pitch shift of sample-folder audio (SoundFont renders are detuned in the synth, exactly and for free).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .constants import EFFECTS, FILTER_TYPES, MAX_PITCH_SHIFT_CENTS, OUTPUT_PEAK

FILTER_ORDER = 4


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _r(v: float, nd: int = 4) -> float:
    """Rounded parameters: labels read cleanly and survive JSON/Parquet round trips exactly."""
    return round(float(v), nd)


@lru_cache(maxsize=512)
def _butter(kind: str, cutoff: tuple[float, ...], sr: int, order: int = FILTER_ORDER):
    import scipy.signal

    wn = cutoff[0] if len(cutoff) == 1 else list(cutoff)
    return scipy.signal.butter(order, wn, btype=kind, fs=sr, output="sos")


@dataclass
class AugmentConfig:
    """Probability that each step is applied; 0 turns a step off, ``AugmentConfig.dry()`` all."""

    pitch_shift: float = 0.5
    time_stretch: float = 0.2
    gain: float = 0.5
    distortion: float = 0.15
    filter: float = 0.3
    chorus: float = 0.2
    delay: float = 0.2
    reverb: float = 0.3
    noise: float = 0.25
    mp3: float = 0.15
    max_pitch_shift_cents: float = 30.0
    time_stretch_range: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self):
        if not 0.0 <= self.max_pitch_shift_cents <= MAX_PITCH_SHIFT_CENTS:
            raise ValueError(f"max_pitch_shift_cents={self.max_pitch_shift_cents:g}: "
                             f"between 0 and {MAX_PITCH_SHIFT_CENTS:g} cents")

    @classmethod
    def dry(cls) -> "AugmentConfig":
        return cls(**{k: 0.0 for k in STEP_NAMES})

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


STEP_NAMES = ("pitch_shift", "time_stretch", "gain", "distortion", "filter", "chorus", "delay",
              "reverb", "noise", "mp3")

# Every column the augmentation writes, with its Arrow-friendly type: the schema of features.py.
COLUMNS: dict[str, str] = {
    "pitch_shift_cents": "float32", "time_stretch_rate": "float32", "gain_db": "float32",
    "distortion_drive_db": "float32", "filter_type": "string", "filter_cutoff_hz": "float32",
    "filter_bandwidth_octaves": "float32", "chorus_rate_hz": "float32", "chorus_depth": "float32",
    "chorus_mix": "float32", "delay_time_s": "float32", "delay_feedback": "float32",
    "delay_mix": "float32", "reverb_room_size": "float32", "reverb_damping": "float32",
    "reverb_wet_level": "float32", "noise_snr_db": "float32", "mp3_vbr_quality": "float32",
    "output_gain_db": "float32",
}


def draw(rng: np.random.Generator, cfg: AugmentConfig) -> dict:
    """All augmentation parameters for one example. Always consumes the same number of draws
    per step, so turning one step off does not change what the others draw."""
    u = {name: rng.random() for name in STEP_NAMES}
    on = {name: u[name] < getattr(cfg, name) for name in STEP_NAMES}
    v = rng.random(12)  # parameter draws, fixed positions
    p: dict = {}
    p["pitch_shift_cents"] = _r((2 * v[0] - 1) * cfg.max_pitch_shift_cents, 2) if on["pitch_shift"] else 0.0
    lo, hi = cfg.time_stretch_range
    p["time_stretch_rate"] = _r(lo + v[1] * (hi - lo)) if on["time_stretch"] else 1.0
    p["gain_db"] = _r(-6 + 12 * v[2], 2) if on["gain"] else 0.0
    p["distortion_drive_db"] = _r(5 + 25 * v[3], 2) if on["distortion"] else 0.0
    if on["filter"]:
        ftype = FILTER_TYPES[1 + int(v[4] * 3)]
        lo_hz, hi_hz = {"lowpass": (300, 4000), "highpass": (150, 2000), "bandpass": (300, 3000)}[ftype]
        p["filter_type"] = ftype
        p["filter_cutoff_hz"] = _r(np.exp(np.log(lo_hz) + v[5] * np.log(hi_hz / lo_hz)), 1)
        p["filter_bandwidth_octaves"] = _r(1 + v[6], 3) if ftype == "bandpass" else None
    else:
        p["filter_type"], p["filter_cutoff_hz"], p["filter_bandwidth_octaves"] = "none", None, None
    c = rng.random(3)
    p["chorus_rate_hz"] = _r(0.5 + 2.5 * c[0]) if on["chorus"] else 0.0
    p["chorus_depth"] = _r(0.15 + 0.45 * c[1]) if on["chorus"] else 0.0
    p["chorus_mix"] = _r(0.3 + 0.4 * c[2]) if on["chorus"] else 0.0
    p["delay_time_s"] = _r(0.08 + 0.32 * v[7]) if on["delay"] else 0.0
    p["delay_feedback"] = _r(0.1 + 0.5 * v[8]) if on["delay"] else 0.0
    p["delay_mix"] = _r(0.2 + 0.3 * v[9]) if on["delay"] else 0.0
    r = rng.random(3)
    p["reverb_room_size"] = _r(0.3 + 0.65 * r[0]) if on["reverb"] else 0.0
    p["reverb_damping"] = _r(0.1 + 0.8 * r[1]) if on["reverb"] else 0.0
    p["reverb_wet_level"] = _r(0.15 + 0.45 * r[2]) if on["reverb"] else 0.0
    p["noise_snr_db"] = _r(15 + 25 * v[10], 2) if on["noise"] else None
    p["mp3_vbr_quality"] = _r(2 + 7 * v[11], 2) if on["mp3"] else None
    p["output_gain_db"] = 0.0  # set by apply() when the peak cap lowers the level
    return p


def effect_labels(params: dict) -> list[str]:
    """The multi-label ``effects`` column: which audible effects were applied (empty = dry)."""
    labels = []
    if params["reverb_wet_level"] > 0:
        labels.append("reverb")
    if params["delay_mix"] > 0:
        labels.append("delay")
    if params["chorus_mix"] > 0:
        labels.append("chorus")
    if params["filter_type"] != "none":
        labels.append(params["filter_type"])
    if params["distortion_drive_db"] > 0:
        labels.append("distortion")
    assert all(label in EFFECTS for label in labels)
    return labels


def apply(audio: np.ndarray, sr: int, params: dict, rng: np.random.Generator,
          pitch_applied: bool = False) -> np.ndarray:
    """Apply ``params`` (from ``draw``) to mono float32 ``audio``; returns audio of the same length.

    ``rng`` draws the noise samples only. ``pitch_applied``: the pitch shift was already done in
    the synthesizer. ``params["output_gain_db"]`` is updated in place when the peak cap applies.
    """
    import pedalboard as pb

    n = len(audio)
    x = np.asarray(audio, dtype=np.float32)
    if params["pitch_shift_cents"] and not pitch_applied:
        from audiomentations import PitchShift

        st = params["pitch_shift_cents"] / 100.0
        x = PitchShift(min_semitones=st, max_semitones=st, p=1.0, method="signalsmith_stretch")(x, sr)
    if params["time_stretch_rate"] != 1.0:
        from audiomentations import TimeStretch

        rate = params["time_stretch_rate"]
        x = TimeStretch(min_rate=rate, max_rate=rate, leave_length_unchanged=False, p=1.0,
                        method="signalsmith_stretch")(x, sr)
        x = np.pad(x, (0, max(0, n - len(x))))[:n]
    if params["gain_db"]:
        x = x * np.float32(10 ** (params["gain_db"] / 20))
    board = []
    if params["distortion_drive_db"]:
        board.append(pb.Distortion(drive_db=params["distortion_drive_db"]))
    if board:
        x = pb.Pedalboard(board)(x, sr)
        board = []
    ftype = params["filter_type"]
    if ftype != "none":
        import scipy.signal

        fc = params["filter_cutoff_hz"]
        nyq = sr / 2 * 0.95
        if ftype == "bandpass":
            half = 2 ** (params["filter_bandwidth_octaves"] / 2)
            sos = _butter("bandpass", (fc / half, min(fc * half, nyq)), sr)
        else:
            sos = _butter(ftype, (min(fc, nyq),), sr)
        x = scipy.signal.sosfilt(sos, x).astype(np.float32)
    if params["chorus_mix"]:
        board.append(pb.Chorus(rate_hz=params["chorus_rate_hz"], depth=params["chorus_depth"],
                               mix=params["chorus_mix"], centre_delay_ms=7.0, feedback=0.0))
    if params["delay_mix"]:
        board.append(pb.Delay(delay_seconds=params["delay_time_s"], feedback=params["delay_feedback"],
                              mix=params["delay_mix"]))
    if params["reverb_wet_level"]:
        board.append(pb.Reverb(room_size=params["reverb_room_size"], damping=params["reverb_damping"],
                               wet_level=params["reverb_wet_level"], dry_level=1.0 - params["reverb_wet_level"] / 2))
    if board:
        x = pb.Pedalboard(board)(x, sr)
    if params["noise_snr_db"] is not None:
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        if rms > 0:
            sigma = rms / 10 ** (params["noise_snr_db"] / 20)
            x = x + (rng.standard_normal(len(x)) * sigma).astype(np.float32)
    if params["mp3_vbr_quality"] is not None:
        x = pb.MP3Compressor(vbr_quality=params["mp3_vbr_quality"])(x, sr)
    x = np.pad(x, (0, max(0, n - len(x))))[:n].astype(np.float32)
    peak = float(np.max(np.abs(x))) if n else 0.0
    if peak > OUTPUT_PEAK:
        scale = OUTPUT_PEAK / peak
        x = x * np.float32(scale)
        params["output_gain_db"] = _r(20 * np.log10(scale), 3)
    return x


EFFECTS_INDEX = {name: i for i, name in enumerate(EFFECTS)}
