import numpy as np
import pytest

from conftest import SR, TIMGM, band_db, dominant_hz
from dub_dataset.constants import DRUM_CLASS_OF_NOTE, DRUM_CLASSES
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import Preset, SoundFontError, discover_soundfonts, key_sample_hashes, load_soundfont

ENGINES = ["fluidsynth", "tinysoundfont"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a4_measures_440_hz(engine, small_fonts):
    x = get_engine(engine, SR).render(TIMGM, Preset("Piano", 0, 0), [Note(0, 2.0, 69, 100)], 2.5)
    assert x.dtype == np.float32 and len(x) == int(2.5 * SR)
    assert dominant_hz(x[SR // 10: SR]) == pytest.approx(440.0, abs=2.0)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("cents", [-30, 25])
def test_pitch_wheel_detunes_by_cents(engine, cents, small_fonts):
    x = get_engine(engine, SR).render(TIMGM, Preset("Piano", 0, 0), [Note(0, 2.0, 69, 100)], 2.0, bend_cents=cents)
    assert dominant_hz(x[SR // 10: SR]) == pytest.approx(440 * 2 ** (cents / 1200), abs=2.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_pitch_wheel_beyond_two_semitones_then_back(engine, small_fonts):
    # wider shifts widen the wheel's range for that render only: the next render bends as before
    eng = get_engine(engine, SR)
    for cents in (450, -700, 100):
        x = eng.render(TIMGM, Preset("Piano", 0, 0), [Note(0, 2.0, 69, 100)], 2.0, bend_cents=cents)
        assert dominant_hz(x[SR // 10: SR]) == pytest.approx(440 * 2 ** (cents / 1200), rel=0.006)
    kit = load_soundfont(TIMGM).drum_kits()[0]
    hit = [Note(0, 0.1, 47, 110)]
    flat, sharp = (dominant_hz(eng.render(TIMGM, kit, hit, 0.5, drum=True, bend_cents=c)[: SR // 4]) for c in (0, 400))
    # drum kits follow the wheel too (a clipped wheel would give 2 ** (200 / 1200) = 1.12)
    assert sharp / flat == pytest.approx(2 ** (400 / 1200), rel=0.04)
    with pytest.raises(ValueError, match="at most"):
        eng.render(TIMGM, Preset("Piano", 0, 0), [Note(0, 1.0, 69, 100)], 1.0, bend_cents=3000)


@pytest.mark.parametrize("engine", ENGINES)
def test_drum_hits_sound_in_every_coarse_class(engine, small_fonts):
    font = load_soundfont(TIMGM)
    kit = font.drum_kits()[0]
    heard = set()
    for note, cls in DRUM_CLASS_OF_NOTE.items():
        x = get_engine(engine, SR).render(TIMGM, kit, [Note(0, 0.1, note, 110)], 0.5, drum=True)
        if np.abs(x).max() > 1e-3:
            heard.add(cls)
    assert heard == set(DRUM_CLASSES)


def test_velocity_sets_level(small_fonts):
    eng = get_engine("fluidsynth", SR)
    soft, loud = (np.abs(eng.render(TIMGM, Preset("Piano", 0, 0), [Note(0, 1, 60, v)], 1.0)).max() for v in (30, 120))
    assert loud > 2 * soft


def test_reverb_and_chorus_are_off_in_the_synth(small_fonts):
    """A staccato note ends in silence: no synth reverb tail that the labels would not know of."""
    x = get_engine("fluidsynth", SR).render(TIMGM, Preset("Piano", 0, 0), [Note(0, 0.1, 72, 100)], 3.0)
    assert np.abs(x[int(2.5 * SR):]).max() < 1e-3


def test_soundfont_presets_and_kits(small_fonts):
    font = load_soundfont(TIMGM)
    assert len(font.melodic()) == 128 and {p.program for p in font.melodic()} == set(range(128))
    assert font.drum_kits() and all(k.bank == 128 for k in font.drum_kits())


def test_kit_only_font_detects_its_sounding_keys():
    """AVL kits sit at bank 0 program 0 and sound only part of the GM key range."""
    avl = [f for f in discover_soundfonts() if f.is_kit_only()]
    assert avl, "avldrums.lv2-soundfont missing: run scripts/setup.sh"
    from dub_dataset.sources import DrumMaker, Spec

    maker = DrumMaker(Spec("drums", soundfonts=[avl[0].path], split_by="preset", engines=("fluidsynth",)))
    notes = maker.sounding_notes(avl[0], avl[0].drum_kits()[0])
    assert 36 in notes and 38 in notes and 0 < len(notes) < 47


def test_bad_soundfonts_name_the_file(tmp_path):
    with pytest.raises(SoundFontError, match="not found"):
        load_soundfont(tmp_path / "missing.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"this is not a soundfont" * 10)
    with pytest.raises(SoundFontError, match="bad.sf2.*not a SoundFont"):
        load_soundfont(bad)
    trunc = tmp_path / "trunc.sf2"
    trunc.write_bytes(open(TIMGM, "rb").read()[:100_000])
    with pytest.raises(SoundFontError, match="trunc.sf2"):
        load_soundfont(trunc)
    # presets readable, but the instrument zones run past the end: the sample map names the file
    data = bytearray(open(TIMGM, "rb").read())
    at = data.index(b"igen", data.index(b"pdta"))
    data[at + 4:at + 8] = (len(data)).to_bytes(4, "little")
    zones = tmp_path / "zones.sf2"
    zones.write_bytes(bytes(data))
    font = load_soundfont(zones)
    with pytest.raises(SoundFontError, match="zones.sf2.*'igen' chunk runs past the end"):
        key_sample_hashes(font, font.drum_kits()[0])


def test_gs_orchestra_kits_are_left_out_for_their_timpani():
    """FluidR3's Orchestra Kit plays timpani on keys 41-53, where the GM map (and the drums labels)
    has toms, hi-hats, crash and ride: its 'hi-hats' and 'cymbals' sound below 1 kHz, the Standard
    kit's above 2 kHz. drum_kits() leaves the orchestra kit out and keeps the others."""
    fluid = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    font = load_soundfont(fluid)
    kit = {p.name: p for p in font.presets if p.bank == 128}
    assert "Orchestra Kit" in kit and "Standard" in kit, "FluidR3_GM missing: run scripts/setup.sh"
    eng = get_engine("fluidsynth", SR)
    for note in (42, 46, 49, 51):  # closed hi-hat, open hi-hat, crash, ride
        low_minus_high = {}
        for name in ("Orchestra Kit", "Standard"):
            x = eng.render(fluid, kit[name], [Note(0, 0.1, note, 100)], 0.6, drum=True)
            low_minus_high[name] = band_db(x, 20, 1000) - band_db(x, 2000, 8000)
        assert low_minus_high["Orchestra Kit"] > 10 and low_minus_high["Standard"] < 0, (note, low_minus_high)
    names = [k.name for k in font.drum_kits()]
    assert "Standard" in names and not any("orchestra" in n.lower() for n in names)


@pytest.mark.parametrize("engine", ENGINES)
def test_oversampled_renders_do_not_fold_a_hi_hat_below_8_khz(engine, small_fonts):
    """Rendered at 16 kHz straight, TimGM6mb's closed hi-hat (72 % of its energy above 8 kHz) folds back
    under 2 kHz; oversampled twice it is the 32 kHz render resampled down, as a recording resampled to
    16 kHz would be. A snare, with little above 8 kHz, stays the same within a dB; a held note keeps its pitch."""
    from dub_dataset.audio_io import resample
    from dub_dataset.render import create_engine

    kit = load_soundfont(TIMGM).drum_kits()[0]
    plain, over, wide = create_engine(engine, SR), create_engine(engine, SR, 2), create_engine(engine, 2 * SR)
    hat = [e.render(TIMGM, kit, [Note(0, 0.1, 42, 100)], 1.0, drum=True) for e in (plain, over, wide)]
    assert len(hat[1]) == SR and hat[1].dtype == np.float32
    assert np.abs(hat[1] - resample(hat[2], 2 * SR, SR)).max() < 1e-5
    assert band_db(hat[0], 0, 2000) > band_db(hat[1], 0, 2000) + 10  # the aliases of the top octave
    snare = [e.render(TIMGM, kit, [Note(0, 0.1, 38, 100)], 1.0, drum=True) for e in (plain, over)]
    assert abs(band_db(snare[0], 100, 4000) - band_db(snare[1], 100, 4000)) < 1.0
    a4 = over.render(TIMGM, Preset("Piano", 0, 0), [Note(0.5, 2.0, 69, 100)], 2.5)
    assert np.abs(a4[:int(0.45 * SR)]).max() < 1e-3 and dominant_hz(a4[SR: 2 * SR]) == pytest.approx(440.0, abs=2.0)
    with pytest.raises(ValueError, match="oversample"):
        create_engine(engine, SR, 0)


def test_specs_oversample_by_default_and_read_old_specs_as_rendered():
    from dub_dataset import Spec

    assert Spec("drums").render_oversample == 2 and Spec("drums").to_dict()["render_oversample"] == 2
    old = Spec("drums", render_oversample=1).to_dict()
    assert "render_oversample" not in old  # a Spec written before the option: same dict, same plan hash
    assert Spec.from_dict(old).render_oversample == 1
    assert Spec.from_dict(Spec("notes", seed=3).to_dict()) == Spec("notes", seed=3)
    with pytest.raises(ValueError, match="render-oversample"):
        Spec("drums", render_oversample=0)
