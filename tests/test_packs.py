"""FoxDot's drum one-shots as a training kit (dub_dataset/packs.py, `dub foxdot-kit`), and a rewritten
split's record naming the kits it draws from."""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, TIMGM, band_db

from dub_dataset.constants import DRUM_CLASS_OF_NOTE, FOXDOT_KIT_DIR, FOXDOT_LICENSE
from dub_dataset.hydrogen import discover_drumkits, kit_splits, load_sample_folder
from dub_dataset.packs import FOXDOT_KEYS, PackError, foxdot_sample_folder
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont

FOXDOT = Path(FOXDOT_KIT_DIR).expanduser()


@pytest.mark.skipif(not FOXDOT.is_dir(), reason="FoxDot's samples not laid out (scripts/setup.sh fetches them from PyPI)")
def test_foxdot_one_shots_train_the_drums_config_with_the_classes_they_sound_like():
    """The laid-out FoxDot folder is found with the system kits, trains, states its licence, and its
    files sound like the class their folder names: kicks dark, closed hi-hats and crashes bright."""
    from dub_dataset.audio_io import load_audio

    kits = discover_drumkits()
    fox = next(k for k in kits if k.name == "FoxDot samples")
    assert kit_splits(kits)[fox.path] == "train" and fox.license == FOXDOT_LICENSE
    by_class = {}
    for inst in fox.instruments:
        by_class.setdefault(inst.drum_class, []).append(inst)
    assert {c: len(v) for c, v in by_class.items() if c in ("kick", "snare", "closed_hihat", "clap")} == {
        "kick": 19, "snare": 32, "closed_hihat": 16, "clap": 11}
    assert "tom_low" not in by_class and len(fox.instruments) == 122  # toms and snaps are left out

    def low_minus_high(inst):
        x = load_audio(inst.layers[0].path, SR)
        return band_db(x, 20, 200) - band_db(x, 3000, 8000)

    assert np.median([low_minus_high(i) for i in by_class["kick"]]) > 15
    assert np.median([low_minus_high(i) for i in by_class["closed_hihat"]]) < -15
    assert max(low_minus_high(i) for i in by_class["crash"]) < 0


def _fake_foxdot(root: Path) -> dict[str, bytes]:
    """A FoxDot source tree (FoxDot/snd/<folder>/<file>) of real TimGM6mb one-shots: one per mapped
    folder, rendered on the folder's GM key, plus folders dub leaves out (toms, snaps)."""
    eng = get_engine("fluidsynth", SR)
    kit = next(p for p in load_soundfont(TIMGM).drum_kits() if p.program == 0)
    files = {}
    for folder in [*FOXDOT_KEYS, "m/lower", "h/lower"]:
        d = root / "FoxDot" / "snd" / folder
        d.mkdir(parents=True)
        note = FOXDOT_KEYS.get(folder, 45)
        sf.write(d / "0 hit.wav", eng.render(TIMGM, kit, [Note(0, 0.2, note, 100)], 0.4, drum=True), SR)
        files[folder] = (d / "0 hit.wav").read_bytes()
    return files


def test_foxdot_folders_are_laid_out_by_gm_key_whole_or_not_at_all(tmp_path):
    src = tmp_path / "foxdot-0.9.0"
    files = _fake_foxdot(src)
    sdist = tmp_path / "foxdot-0.9.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        tar.add(src, arcname="foxdot-0.9.0")
    with pytest.raises(PackError, match="foxdot-0.9.0.tar.gz: sha256 [0-9a-f]{64} is not FoxDot 0.9.0's"):
        foxdot_sample_folder(sdist, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    out = tmp_path / "kits" / "FoxDot"
    written = foxdot_sample_folder(sdist, out, check_hash=False)
    assert len(written) == len(FOXDOT_KEYS)  # the toms and snaps are not there
    for folder, data in files.items():
        name = f"{FOXDOT_KEYS.get(folder, 0):03d}_{folder.replace('_/', '').replace('/', '-')}_0_hit.wav"
        assert (out / name).is_file() == (folder in FOXDOT_KEYS)
        if folder in FOXDOT_KEYS:
            assert (out / name).read_bytes() == data  # bytes unchanged
    kit = load_sample_folder(out)
    assert kit.license == FOXDOT_LICENSE.split("\n")[0]
    assert sorted((i.gm_note, i.drum_class) for i in kit.instruments) == sorted(
        (k, DRUM_CLASS_OF_NOTE[k]) for k in FOXDOT_KEYS.values())
    # the unpacked tree gives the same folder
    again = foxdot_sample_folder(src, tmp_path / "from_dir")
    assert [p.name for p in again] == [p.name for p in written]

    # a tree missing a mapped folder is refused, naming it; the folder written before stays whole
    (src / "FoxDot" / "snd" / "_" / "tilde" / "0 hit.wav").unlink()
    with pytest.raises(PackError, match=r"FoxDot's drum folders _/tilde are missing"):
        foxdot_sample_folder(src, out)
    assert sorted(out.iterdir()) == sorted([*written, out / "LICENSE"])
    assert [p.name for p in out.parent.iterdir()] == ["FoxDot"]  # no temporary folder left

    cut = tmp_path / "cut.tar.gz"  # an interrupted download
    cut.write_bytes(sdist.read_bytes()[: sdist.stat().st_size // 2])
    with pytest.raises(PackError, match="cut.tar.gz: unreadable FoxDot sdist"):
        foxdot_sample_folder(cut, out, check_hash=False)
    assert sorted(out.iterdir()) == sorted([*written, out / "LICENSE"])

    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "foxdot-kit", str(tmp_path / "nope.tar.gz"),
                        str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode != 0 and "nope.tar.gz: no such file or folder" in r.stderr
    r = subprocess.run([sys.executable, "-m", "dub_models.cli", "foxdot-kit", str(sdist), str(tmp_path / "cli"),
                        "--no-hash-check"], capture_output=True, text=True)
    assert r.returncode == 0 and f"wrote {len(FOXDOT_KEYS)} one-shots" in r.stdout, r.stderr


def test_rewriting_the_training_split_lists_the_kits_it_now_draws_from(tmp_path):
    """`dub generate --splits train` with a kit added: dub.json and the card name the new kit, its
    licence and its split; the other splits' sources are unchanged."""
    from dub_dataset import Spec, generate
    from dub_dataset.effects import AugmentConfig

    eng = get_engine("fluidsynth", SR)
    kit = next(p for p in load_soundfont(TIMGM).drum_kits() if p.program == 0)
    folders = []
    for name, notes in (("packA", (36, 38)), ("packB", (42, 49))):
        d = tmp_path / name
        d.mkdir()
        for n in notes:
            sf.write(d / f"{n:03d}_hit.wav", eng.render(TIMGM, kit, [Note(0, 0.2, n, 100)], 0.4, drum=True), SR)
        (d / "LICENSE").write_text(f"CC0 ({name})\n")
        folders.append(str(d))
    out = tmp_path / "ds"
    spec = dict(seed=3, soundfonts=[TIMGM], images=(), augment=AugmentConfig.dry(), sample_rate=SR)
    generate(Spec("drums", drumkits=folders[:1], **spec), 30, out, progress=False)
    before = json.loads((out / "dub.json").read_text())["drums"]
    generate(Spec("drums", drumkits=folders, **spec), 30, out, progress=False, splits=("train",))
    meta = json.loads((out / "dub.json").read_text())["drums"]
    assert "packB (sample folder)" in meta["sources"]["train"]
    assert "packB (sample folder)" not in before["sources"]["train"]
    assert meta["sources"]["validation"] == before["sources"]["validation"]
    assert {k["name"]: (k["split"], k["license"]) for k in meta["drumkits"]} == {
        "packA": ("train", "CC0 (packA)"), "packB": ("train", "CC0 (packB)")}
    assert "packB (sample folder, train): CC0 (packB)" in (out / "README.md").read_text()
    assert meta["split_specs"]["train"]["drumkits"] == folders
