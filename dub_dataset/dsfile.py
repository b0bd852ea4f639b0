"""LMMS's DrumSynth presets (``.ds`` files) rendered as a training kit.

Debian's ``lmms-common`` ships 764 DrumSynth presets in ``/usr/share/lmms/samples/drumsynth``
(GPL-2+, LMMS): emulations of drum machines (TR-808, TR-909, TR-606, TR-77, CR-78, CR-8000,
LinnDrum), acoustic and Latin hits, and a few hundred user-made kicks, snares, claps and hats. A
preset is an INI file describing Paul Kellett's DrumSynth 2 voice: a swept sine ("Tone"), filtered
white noise ("Noise"), two overtone oscillators combined by addition, FM, ring modulation or the
TR-808 cymbal's six square waves through a band-pass ("Overtones"), two noise bands (a sine whose
frequency jitters at random), bit-crushing and sample-rate reduction ("Distortion"), and a resonant
filter with its own envelope over the overtones or the whole sum. Every envelope is a list of
``time,level`` points, the time in samples at 44.1 kHz (times ``Stretch``), the level in percent.

``render_ds`` is dub's own numpy reading of that voice (written from the format's behaviour in LMMS;
levels are the squared slider values on a 16-bit scale, clipped at 32700). ``ds_key`` labels the
presets whose folder and name say one drum class (a kit machine's "Hat_c", "linn_kik", a user's
"fattie_bd"); toms that do not say which tom, hats that do not say open or closed and
sound effects are left out, so no hit carries a guessed label. ``drumsynth_sample_folder`` renders
the labelled presets into a flat sample folder named ``NNN_<folder>_<preset>.wav`` (NNN the GM key:
the sample-folder rule of ``hydrogen.load_sample_folder``) with a LICENSE file, written whole or not
at all. ``scripts/setup.sh`` writes ``DRUMSYNTH_KIT_DIR``, a training kit of the drums config
(``constants.SAMPLE_PACKS``).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from .constants import DRUMSYNTH_LICENSE
from .fileio import atomic_folder

DS_SAMPLE_RATE = 44100  # envelope times are samples at this rate
DS_SOURCE_DIR = "/usr/share/lmms/samples/drumsynth"
_CLIP = 32700.0
MAX_DS_SECONDS = 60  # LMMS's longest preset rings 7 s


class DrumSynthError(ValueError):
    """A .ds file that is missing, not a DrumSynth preset, or renders nothing."""


def parse_ds(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """{section: {key: value}} of a .ds file, sections and keys lower-cased (the format is read
    case-insensitively); the first value of a repeated key wins."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("latin-1")
    except OSError as e:
        raise DrumSynthError(f"{path}: unreadable ({e.strerror or e})") from e
    out: dict[str, dict[str, str]] = {}
    sec = None
    for line in text.replace("\r", "\n").split("\n"):
        line = line.strip()
        if line.startswith("[") and "]" in line:
            sec = out.setdefault(line[1:line.index("]")].strip().lower(), {})
        elif sec is not None and "=" in line:
            k, v = line.split("=", 1)
            sec.setdefault(k.strip().lower(), v.strip())
    version = out.get("general", {}).get("version", "")
    if not re.match(r"(?i)drumsynth v[12]", version):
        raise DrumSynthError(f"{path}: not a DrumSynth v1/v2 preset (Version={version!r})")
    return out


def _num(d: dict, sec: str, key: str, default: float, integer: bool = False) -> float:
    v = d.get(sec, {}).get(key.lower(), "")
    m = re.match(r"\s*[-+]?(\d+\.?\d*|\.\d+)", v)
    if not m:
        return default
    x = float(m.group(0))
    return float(int(x)) if integer else x  # sscanf %d stops at the point


def _envelope(d: dict, sec: str, key: str, stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """(times in output samples, levels 0-1) of an envelope's points (default: silent)."""
    raw = d.get(sec, {}).get(key.lower(), "") or "0,0 100,0"
    t, lev = [], []
    for pair in raw.split()[:32]:
        a, _, b = pair.partition(",")
        try:
            t.append(float(a))
            lev.append(float(b or 0))
        except ValueError:
            t.append(0.0)
            lev.append(0.0)
    return np.asarray(t) * stretch, np.asarray(lev) * 0.01


def _env_curve(env, n: int) -> np.ndarray:
    """The envelope's level at each of n samples: linear between points, held after the last."""
    t, lev = env
    if len(t) == 1:
        return np.full(n, lev[0])
    return np.interp(np.arange(n, dtype=np.float64), t, lev)


def _wave(ph: np.ndarray, form: int) -> np.ndarray:
    if form == 0:
        return np.sin(ph)
    if form == 1:
        return np.abs(2.0 * np.sin(0.5 * ph)) - 1.0
    saw = np.mod(ph / (2 * np.pi), 1.0)
    if form == 2:
        return 1.0 - 4.0 * np.abs(saw - 0.5)
    if form == 3:
        return 2.0 * saw - 1.0
    return np.where(saw < 0.5, 1.0, -1.0)


def _active(n: int, end: float) -> np.ndarray:
    """A section runs in 1200-sample blocks until the end of the block in which its envelope's last
    point falls (the first block at least)."""
    stop = min(n, max(1, math.ceil(max(end, 0.0) / 1200.0)) * 1200)
    m = np.zeros(n)
    m[:stop] = 1.0
    return m


def render_ds(path: str | os.PathLike, sample_rate: int = DS_SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """The preset's hit as float32 mono in [-1, 1] at ``sample_rate`` (noise drawn from ``seed``)."""
    d = parse_ds(path)
    rng = np.random.default_rng(seed)
    g = "general"
    stretch = min(max(0.01 * _num(d, g, "Stretch", 100.0), 0.2), 10.0) * sample_rate / DS_SAMPLE_RATE
    gain = 10 ** (0.05 * _num(d, g, "Level", 0.0))
    tune = 1.0594631 ** _num(d, g, "Tuning", 0.0)
    main_filter = 2 * int(_num(d, g, "Filter", 0, True))
    res = math.sqrt(max(0.0101 * _num(d, g, "Resonance", 0.0), 0.0))
    highpass = int(_num(d, g, "HighPass", 0, True))
    w = 2 * math.pi * tune / sample_rate  # Hz -> radians a sample

    on = {s: int(_num(d, s, "On", 0, True)) == 1 for s in ("tone", "noise", "overtones", "noiseband",
                                                            "noiseband2", "distortion")}
    lev = {s: _num(d, s, "Level", 0 if s == "noise" else 128, True) for s in on}
    envs = {"tone": _envelope(d, "tone", "Envelope", stretch), "noise": _envelope(d, "noise", "Envelope", stretch),
            "ot1": _envelope(d, "overtones", "Envelope1", stretch),
            "ot2": _envelope(d, "overtones", "Envelope2", stretch),
            "noiseband": _envelope(d, "noiseband", "Envelope", stretch),
            "noiseband2": _envelope(d, "noiseband2", "Envelope", stretch),
            "filter": _envelope(d, g, "FilterEnv", stretch)}
    ends = {k: float(e[0][-1]) for k, e in envs.items()}
    section_of = {"tone": "tone", "noise": "noise", "ot1": "overtones", "ot2": "overtones",
                  "noiseband": "noiseband", "noiseband2": "noiseband2"}  # the filter's envelope sets no length
    longest = max([ends[k] for k, s in section_of.items() if on[s]] or [0.0])
    n = 2400 + 1200 * int(longest / 1200)
    if n > MAX_DS_SECONDS * sample_rate:
        raise DrumSynthError(f"{path}: its envelopes last {longest / sample_rate:.0f} s, more than the "
                             f"{MAX_DS_SECONDS} s a drum hit may (a corrupt preset?)")
    t = np.arange(n, dtype=np.float64)
    out = np.zeros(n)

    if on["noise"]:  # white noise through a first-order tilt ("Slope")
        from scipy.signal import lfilter
        slope, nl = _num(d, "noise", "Slope", 0, True), lev["noise"] ** 2
        x = rng.uniform(-1.0, 1.0, n)
        if slope < 0:
            y = lfilter([1.0 + slope / 105.0], [1.0, slope / 105.0], x) * (1.0 + 0.0005 * slope * slope)
        else:
            y = lfilter([1.0, -slope / 50.0, abs(slope) / 100.0], [1.0], x)
        out += y * nl * _env_curve(envs["noise"], n) * _active(n, ends["noise"])

    # the tone: a sine whose frequency falls from F1 to F2, linearly or exponentially ("Droop")
    f1 = w * _num(d, "tone", "F1", 200.0)
    f1 = 0.001 if abs(f1) < 0.001 else f1
    f2 = w * _num(d, "tone", "F2", 120.0)
    droop = _num(d, "tone", "Droop", 0.0)
    tmax = max(ends["tone"], 1.0)
    if droop > 0:
        rate = 10 ** ((droop - 20.0) / 30.0) * -4.0 / tmax
        f2 = f1 + (f2 - f1) / (1.0 - math.exp(rate * tmax))
        freq = f2 + (f1 - f2) * np.exp(t * rate)
    else:
        freq = f1 + (t / tmax) * (f2 - f1)
    phase0 = _num(d, "tone", "Phase", 90.0) / 57.29578
    tone_on = _active(n, ends["tone"]) if on["tone"] else np.zeros(n)
    step = np.where(tone_on > 0, freq, f2)  # the overtones track F2 once the tone has stopped
    tone_phase = phase0 + np.cumsum(step)
    if on["tone"]:
        out += lev["tone"] ** 2 * _env_curve(envs["tone"], n) * np.sin(tone_phase) * tone_on

    for band in ("noiseband", "noiseband2"):  # a sine whose frequency jumps at random every few samples
        if not on[band]:
            continue
        bf = w * _num(d, band, "F", 1000.0)
        df = int(_num(d, band, "dF", 50, True))
        q = df * df / (10000.0 - 6600.0 * (math.sqrt(max(bf, 0.0)) - 0.19))
        every = max(1, 1 + int((40.0 - df / 2.5) / (q + 1.0 + bf)))
        jitter = np.repeat(rng.uniform(-0.5, 0.5, n // every + 1), every)[:n]
        out += (np.cos(math.pi / 4 + np.cumsum(bf + q * jitter)) * _env_curve(envs[band], n)
                * lev[band] ** 2 * _active(n, ends[band]))

    ot = np.zeros(n)
    if on["overtones"]:
        ol = lev["overtones"] ** 2
        e1 = _env_curve(envs["ot1"], n) * (t < ends["ot1"])
        e2 = _env_curve(envs["ot2"], n) * (t < ends["ot2"])
        mode = int(_num(d, "overtones", "Method", 2, True))
        of1, of2 = w * _num(d, "overtones", "F1", 200.0), w * _num(d, "overtones", "F2", 120.0)
        w1, w2 = int(_num(d, "overtones", "Wave1", 0, True)), int(_num(d, "overtones", "Wave2", 0, True))
        param = _num(d, "overtones", "Param", 50, True)
        drive, bal2 = param ** 3 / 125000.0, param * 0.01
        bal1 = 1.0 - bal2
        track = [int(_num(d, "overtones", k, 0, True)) == 1 and on["tone"] for k in ("Track1", "Track2")]
        ph1 = tone_phase * (of1 / f1) if track[0] else phase0 + np.cumsum(np.full(n, of1))
        ph2 = tone_phase * (of2 / f1) if track[1] else phase0 + np.cumsum(np.full(n, of2))
        if mode == 0:
            ot = ol * (bal1 * e1 * _wave(ph1, w1) + bal2 * e2 * _wave(ph2, w2))
        elif mode == 1:
            ot = ol * e1 * _wave(ph1 + drive * e2 * _wave(ph2, w2), w1)
        elif mode == 2:
            ot = ol * e1 * _wave(ph1, w1) * ((1 - drive / 8) + (drive / 8) * e2 * _wave(ph2, w2))
        elif mode == 3:
            ot = _cymbal(n, of1, of2, bal1, ol * e1, e2)
        if main_filter == 0:
            main_filter = int(_num(d, "overtones", "Filter", 0, True))

    if main_filter in (1, 2):
        src = ot if main_filter == 1 else out + ot
        filt = _resonant_filter(src, _env_curve(envs["filter"], n), res)
        out = out + filt - highpass * ot if main_filter == 1 else filt - highpass * src
    else:
        out = out + ot

    clip = _CLIP
    if on["distortion"]:
        loudest = max([lev[s] for s in ("tone", "noise", "overtones", "noiseband", "noiseband2") if on[s]] or [0.0])
        atten = gain * float(np.int16(np.int32(loudest * loudest).astype(np.int16)))  # 16-bit, as DrumSynth
        clip = min(atten, _CLIP)
        atten = 2.0 ** (2 * int(_num(d, "distortion", "Bits", 0, True)))
        gain = atten * gain * 10 ** (0.05 * int(_num(d, "distortion", "Clipping", 0, True)))
        out = gain * np.trunc(out / atten)
        hold = 1 + int(_num(d, "distortion", "Rate", 0, True))
        hold = {5: 8, 6: 10, 7: 20}.get(hold, hold)
        if hold > 1:  # sample-rate reduction: each run of `hold` samples becomes its mean
            out = np.repeat(out.reshape(-1, hold).mean(axis=1), hold)
    else:
        out = out * gain
    out = np.trunc(np.clip(out, -clip, clip)) if clip > 0 else np.zeros(n)
    return (out / 32768.0).astype(np.float32)


def _cymbal(n: int, of1: float, of2: float, bal1: float, level: np.ndarray, fenv: np.ndarray) -> np.ndarray:
    """The TR-808 cymbal of the "Overtones" section: six square-wave edges (periods between those of
    F1 and F2) as pulses, through a two-pole band-pass whose frequency follows envelope 2."""
    a = 0.28 + bal1 * bal1
    q = a * a
    f = (1.8 - 0.7 * q) * 0.92
    p1, p2 = 2 * math.pi / of1, 2 * math.pi / of2
    periods = [p1 + (p2 - p1) * 0.2 * i for i in range(6)]
    fire = np.zeros(n, dtype=bool)
    for p in periods:  # counter starts at its period, +1 a sample, fires and wraps when above it
        if p <= 0:
            continue
        k = np.arange(0, int((n + 1) / p) + 2)
        idx = np.floor(k * p).astype(np.int64)  # the sample of its (k+1)th wrap
        idx = idx[(idx >= 0) & (idx < n)]
        fire[idx] = True
    pulse = np.where(fire, level, 0.0)
    coef = (fenv * f).tolist()
    x = pulse.tolist()
    y = [0.0] * n
    lo = band = prev = 0.0
    for i in range(n):
        c = coef[i]
        lo += c * band
        band += c * (x[i] + prev - q * band - lo)
        prev = x[i]
        y[i] = band
    return np.asarray(y)


def _resonant_filter(x: np.ndarray, fenv: np.ndarray, res: float) -> np.ndarray:
    """DrumSynth's main filter: two one-pole low-passes in series with resonance feedback, their
    coefficient set by the filter envelope each sample."""
    fb = np.where(fenv > 0.2, 1.001 - 10 ** (fenv - 1.0), 0.999 - 0.7824 * fenv)
    k = (res * (1.0 + 1.0 / fb)).tolist()
    fbl, xl = fb.tolist(), x.tolist()
    y = [0.0] * len(xl)
    a = b = 0.0
    for i in range(len(xl)):
        u = xl[i] + k[i] * (a - b)
        a = fbl[i] * (a - u) + u
        b = fbl[i] * (b - a) + a
        y[i] = b
    return np.asarray(y)


# ---- labels -------------------------------------------------------------------------------------

# (regex over "folder/preset" lower-cased, GM key): the first match wins. Kit machines name their
# voices in short codes (Hat_c, linn_kik, K_8bit); the user presets say it in words (fattie_bd).
_DS_RULES = [
    (r"^(tr606/tr606_tom_l)$", 45), (r"^tr808/tom_lo$", 45), (r"^tr808/tom_mid$", 47),
    (r"^(tr606/tr606_tom_h|tr808/tom_hi)$", 50),  # the only toms that say which tom they are
    (r"(hat[-_]?o|h_open|_oh$|open.*(hat|hh)|(hat|hh).*open)", 46), (r"pedal_hh", 44),
    (r"(hat[-_]?c\d?$|h_closed|hihat$|(^|/|_)hh$|_hh$|hat(_\d)?$)", 42),
    (r"clap|clp$", 39),
    (r"(rim|_stk$)", 37),
    (r"(kick|kik$|(^|/|_)bd$|bass_drum|/k_)", 36),
    (r"(snare|snr|(^|/|_)sn(_\d)?$|/s_)", 38),
    (r"(cymbal$|cym$|ramacym)", 49), (r"ride", 51),
    (r"(cga|conga)", 63), (r"cab$", 69), (r"(cow$|cowbell)", 56), (r"tamb", 54), (r"bongo", 60),
    (r"(maracas|shake$|shaker)", 70), (r"clave", 75), (r"guiro", 73), (r"triangle", 81), (r"timbale", 65),
    (r"/wood\d?$|hollow_wood", 76),
]
_NAMED_TOMS = 4
# Presets whose name holds a class word but not one clean hit of that class (a snare called
# "clappy", a kick called "sticky", a cymbal effect, a ride played with a shaker, a hat that opens
# and closes), and toms that do not say which tom.
DS_SKIP = frozenset({
    "misc/clappy_snare", "misc/sticky_q_kick", "misc_electro/cymbal_madness", "misc_hats/band_pass_cymbal",
    "misc/rimmy_noise", "misc_hats/shaker_ride", "misc_hats/shaker_ride_long", "r_n_b/snare&hat",
    "misc_perc/bell_rim", "misc_perc/ringmod_rim", "misc_perc/ringmod_rim_2", "misc_perc/wood_and_metal",
    "misc/ring_mod_drone_bd", "jorgensohn/hihatopclo", "r_n_b/hat_rattle", "misc_hats/static_tone_hat",
    "misc_electro/electric_triangle", "electro/s_eq",
})
# Folders of sound effects, melodic instruments and bass synths: no preset there is a drum hit
DS_SKIP_FOLDERS = frozenset({"effects", "instrument", "magnetboy", "misc_fx", "misc_synth", "misc_bass", "ferraro"})


def ds_key(rel: str) -> int | None:
    """The GM key a preset plays, from its path under the drumsynth folder ("tr808/Hat_c.ds"), or
    None when its folder and name do not say one drum class."""
    rel = rel.replace("\\", "/")
    stem = rel[:-3] if rel.lower().endswith(".ds") else rel
    low = stem.lower()
    if low.split("/")[0] in DS_SKIP_FOLDERS or low in DS_SKIP:
        return None
    for rx, key in _DS_RULES[:_NAMED_TOMS]:
        if re.search(rx, low):
            return key
    if "tom" in low.split("/")[-1]:  # which tom is not said
        return None
    for rx, key in _DS_RULES[_NAMED_TOMS:]:
        if re.search(rx, low):
            return key
    return None


def _decay_s(y: np.ndarray, sample_rate: int, floor_db: float = -40.0) -> float:
    """Seconds from the start until the hit's last sample above floor_db of its peak."""
    a = np.abs(y)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0:
        return 0.0
    above = np.nonzero(a >= peak * 10 ** (floor_db / 20))[0]
    return float(above[-1] + 1) / sample_rate


def drumsynth_sample_folder(source: str | os.PathLike, out: str | os.PathLike, seed: int = 0) -> list[Path]:
    """Render the labelled presets (``ds_key``) under ``source`` into the flat sample folder ``out``
    (16-bit WAV at 44.1 kHz, noise from ``seed``), written beside it and renamed whole. A render that
    is silent, or a hi-hat whose decay contradicts its label (a "closed" hat ringing past 0.5 s, an
    "open" one gone in 0.12 s), is left out, and so is a preset that does not render (with a warning
    naming it). Returns the files written."""
    import soundfile as sf

    source, out = Path(source).expanduser(), Path(out).expanduser()
    if not source.is_dir():
        raise DrumSynthError(f"{source}: no such folder (Debian's lmms-common installs the DrumSynth presets "
                             f"in {DS_SOURCE_DIR})")
    presets = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() == ".ds")
    if not presets:
        raise DrumSynthError(f"{source}: holds no .ds preset")
    names = []
    with atomic_folder(out) as tmp:
        for i, p in enumerate(presets):
            rel = p.relative_to(source).as_posix()
            key = ds_key(rel)
            if key is None:
                continue
            try:
                y = render_ds(p, DS_SAMPLE_RATE, seed=seed + i)
            except DrumSynthError as e:  # one corrupt preset does not stop the kit
                warnings.warn(f"{e}; left out of the kit", stacklevel=2)
                continue
            decay = _decay_s(y, DS_SAMPLE_RATE)
            if decay == 0.0 or (key in (42, 44) and decay > 0.5) or (key == 46 and decay < 0.12):
                continue
            stem = re.sub(r"[^A-Za-z0-9_-]+", "_", rel[:-3].replace("/", "_"))
            target = tmp / f"{key:03d}_{stem}.wav"
            sf.write(target, y[: int(np.nonzero(np.abs(y) > 0)[0][-1]) + 1], DS_SAMPLE_RATE, subtype="PCM_16")
            names.append(target.name)
        if not names:
            raise DrumSynthError(f"{source}: no preset has a folder and name that say one drum class")
        (tmp / "LICENSE").write_text(DRUMSYNTH_LICENSE + "\n\nRendered by dub_dataset/dsfile.py; the file names' "
                                     "first three digits are the GM key each preset plays (ds_key).\n")
    return sorted(out / n for n in names)
