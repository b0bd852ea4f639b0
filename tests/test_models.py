"""Model zoo: a tiny AST trains on real renders; save/load, pipeline, CLI and resume agree."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import GMBANK, SR, TIMGM, ffmpeg
from dub_dataset.render import Note, get_engine
from dub_dataset.soundfonts import load_soundfont


@pytest.fixture(scope="module")
def drums_ds(tmp_path_factory, small_fonts):
    from dub_dataset import Spec, generate

    out = tmp_path_factory.mktemp("drums")
    generate(Spec("drums", seed=1, soundfonts=small_fonts, images=()), 600, out, num_proc=2,
             examples_per_file=150, progress=False)
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory, drums_ds):
    from dub_models.train import TrainArgs, training_function

    out = tmp_path_factory.mktemp("model")
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(out), epochs=6,
                                      arch="cnn", batch_size=32, lr=2e-3, tracker=None, num_threads=2))
    return out, res


def test_tiny_model_beats_chance_on_held_out_kits(trained):
    out, res = trained
    chance = 1 / 12
    assert res["test"]["accuracy"] > 3 * chance, res["test"]
    assert res["validation"]["accuracy"] > 3 * chance
    for name in ("model.safetensors", "config.json", "preprocessor_config.json", "README.md", "confusion_matrix.png"):
        assert (out / name).exists(), name
    card = (out / "README.md").read_text()
    assert "pipeline_tag: audio-classification" in card and "model-index" in card
    assert f"{res['test']['accuracy']:.3f}" in card


def test_save_load_gives_identical_logits(trained, tmp_path):
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    out, _ = trained
    model = AutoModelForAudioClassification.from_pretrained(out).eval()
    fe = AutoFeatureExtractor.from_pretrained(out)
    x = np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32) * 0.1
    inp = fe(x, sampling_rate=SR, return_tensors="pt")
    model.save_pretrained(tmp_path / "again")
    again = AutoModelForAudioClassification.from_pretrained(tmp_path / "again").eval()
    with torch.no_grad():
        assert torch.equal(model(**inp).logits, again(**inp).logits)
    assert model.config.id2label[0] == "kick" and model.config.problem_type == "single_label_classification"


def test_cli_and_pipeline_agree_on_real_files(trained, tmp_path):
    from transformers import pipeline

    out, _ = trained
    font = load_soundfont(TIMGM)
    kit = font.drum_kits()[0]
    files = []
    for note, fmt in ((36, "wav"), (42, "mp3"), (49, "flac")):
        x = get_engine("fluidsynth", SR).render(TIMGM, kit, [Note(0, 0.1, note, 110)], 1.0, drum=True)
        wav = tmp_path / f"{note}.wav"
        sf.write(wav, np.stack([x, x], 1), SR)  # stereo: the CLI mixes down
        if fmt != "wav":
            ffmpeg("-i", str(wav), "-ar", "44100", str(wav.with_suffix("." + fmt)))
        files.append(str(wav.with_suffix("." + fmt)))
    cli = subprocess.run([sys.executable, "-m", "dub_models.cli", "classify", "--model", str(out), "--json", *files],
                         capture_output=True, text=True, check=True)
    results = json.loads(cli.stdout)
    pipe = pipeline("audio-classification", model=str(out))
    for f, r in zip(files, results):
        from dub_dataset.audio_io import load_audio

        direct = pipe({"raw": load_audio(f, SR), "sampling_rate": SR}, top_k=3)
        assert [d["label"] for d in direct] == [s["label"] for s in r["labels"]]
        assert direct[0]["score"] == pytest.approx(r["labels"][0]["score"], abs=1e-5)


def test_evaluate_cli_rescores_the_held_out_split_by_effect(trained, drums_ds):
    """`dub evaluate --task drums` on the dataset the model was trained on gives the test accuracy the
    trainer reported (up to float16 rounding of the trainer's features), split by augmentation."""
    from datasets import load_dataset

    out, res = trained
    cli = subprocess.run([sys.executable, "-m", "dub_models.cli", "evaluate", "--task", "drums", "--model", str(out),
                          "--dataset", str(drums_ds), "--json"], capture_output=True, text=True, check=True)
    r = json.loads(cli.stdout)
    assert r["examples"] == len(load_dataset(str(drums_ds), "drums", split="test"))
    assert r["accuracy"] == pytest.approx(res["test"]["accuracy"], abs=2.5 / r["examples"])
    groups = r["by_effect"]
    assert "none" in groups and sum(g["examples"] for g in groups.values()) >= r["examples"]
    assert all(0 <= g["accuracy"] <= 1 for g in groups.values())
    test = load_dataset(str(drums_ds), "drums", split="test")
    kits = {f"{f} / {i}" for f, i in zip(test["soundfont"], test["instrument"])}
    assert set(r["by_source"]) == kits and sum(g["examples"] for g in r["by_source"].values()) == r["examples"]
    hits = sum(g["accuracy"] * g["examples"] for g in r["by_source"].values())
    assert hits == pytest.approx(r["accuracy"] * r["examples"], abs=0.01 * len(kits))
    assert all(c["true"] != c["predicted"] and c["count"] > 0 for c in r["top_confusions"])
    tom_swaps = sum(c["count"] for c in r["top_confusions"] if c["true"].startswith("tom_") and c["predicted"].startswith("tom_"))
    assert r["accuracy_toms_merged"] >= r["accuracy"] + tom_swaps / r["examples"] - 1e-4
    bad = subprocess.run([sys.executable, "-m", "dub_models.cli", "evaluate", "--task", "effects", "--model", str(out),
                          "--dataset", str(drums_ds)], capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "not for effects" in bad.stderr


def test_drums_accuracy_with_toms_merged_forgives_only_tom_for_tom():
    """A low tom called high counts under ``accuracy_toms_merged`` (kits tune their toms semitones
    apart), a kick called a tom does not."""
    from dub_models.tasks import get_task
    from dub_models.train import metrics

    task = get_task("drums")
    ix = {n: i for i, n in enumerate(task.labels)}
    truth = np.array([ix["tom_low"], ix["tom_mid"], ix["kick"], ix["snare"]])
    pred = np.array([ix["tom_high"], ix["tom_mid"], ix["tom_low"], ix["clap"]])
    out = metrics(task, np.eye(len(task.labels))[pred], truth)
    assert out["accuracy"] == 0.25 and out["accuracy_toms_merged"] == 0.5 and out["score"] == 0.25
    assert "accuracy_toms_merged" not in metrics(get_task("instrument"), np.eye(128)[:4], np.arange(4))


def test_spectral_eq_is_one_smooth_filter_per_clip_and_spares_silence():
    """``--spec-eq``: each training clip gets one random EQ curve, the same in every frame, within
    the asked dB, linear between 6 control gains; frames of silence and padding stay at the floor."""
    import torch

    from dub_models.features import MEL_FLOOR, log_mel_batch
    from dub_models.tasks import get_task
    from dub_models.train import spectral_eq
    from dub_models.classifier import feature_extractor

    font = load_soundfont(TIMGM)
    kit = font.drum_kits()[0]
    hits = [get_engine("fluidsynth", SR).render(TIMGM, kit, [Note(0, 0.1, n, 110)], 0.6, drum=True) for n in (38, 49)]
    hits = [np.pad(h, (0, SR)) for h in hits]  # a 0.6 s render, 1 s of digital silence, then the extractor's padding
    fe = feature_extractor(get_task("drums"))
    fe.do_normalize = False
    raw = log_mel_batch(hits, fe)
    assert raw.shape[1] > 160 and (raw[:, 62:] == np.float32(math.log(MEL_FLOOR))).all()  # the tail and the padding: silence
    mean, std = float(raw.mean()), float(raw.std())
    x = torch.from_numpy((raw - mean) / (2 * std))
    unit, floor = math.log(10) / 10 / (2 * std), (math.log(MEL_FLOOR) - mean) / (2 * std)
    torch.manual_seed(0)
    y = spectral_eq(x, 9.0, unit, floor)
    torch.manual_seed(0)
    assert torch.equal(y, spectral_eq(x, 9.0, unit, floor))  # seeded: resume redraws the same
    assert not torch.equal(y, spectral_eq(x, 9.0, unit, floor))
    assert torch.equal(y[:, 62:], x[:, 62:])  # silence and padding untouched
    assert (y >= floor - 1e-6).all()
    db = (y - x) / unit
    curves = []
    for i in range(2):
        hit = slice(0, 8)  # the attack
        sounding = (x[i, hit] > floor + 9.0 * unit + 0.02).all(dim=0)  # bins never clamped at the floor
        assert sounding.sum() >= 100
        d = db[i, hit][:, sounding]
        assert torch.allclose(d, d[0].expand_as(d), atol=1e-3)  # the same gain in every frame
        c = db[i, 0]
        assert c[sounding].abs().max() <= 9.0 + 1e-3 and c[sounding].abs().max() > 1.0  # within ±9 dB, and audible
        knots = torch.linspace(0, len(c) - 1, 6).round().long()
        for k0, k1 in zip(knots[:-1], knots[1:]):  # linear between the knots: one slope per segment
            inner = torch.arange(k0 + 1, k1 - 1)
            inner = inner[sounding[inner] & sounding[inner + 1]]
            slope = c[inner + 1] - c[inner]
            assert len(slope) > 10 and torch.allclose(slope, slope.mean().expand_as(slope), atol=0.05)
        curves.append(c[sounding][:50])
    assert not torch.allclose(curves[0], curves[1])  # one curve per clip
    assert torch.equal(spectral_eq(x, 0.0, unit, floor), x)


def test_spec_eq_refuses_a_negative_range_and_the_transcriber(drums_ds, tmp_path):
    from dub_models.train import TrainArgs, training_function

    with pytest.raises(ValueError, match="--spec-eq -3"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "a"), spec_eq=-3,
                                    tracker=None))
    with pytest.raises(ValueError, match="transcription"):
        training_function(TrainArgs(task="transcription", stream=True, output_dir=str(tmp_path / "b"), spec_eq=6,
                                    tracker=None))
    assert not (tmp_path / "a" / "model.safetensors").exists()


def test_mixing_adds_the_powers_of_two_real_hits_and_keeps_classes():
    """``--mix-same`` and ``--mixup`` mix clips in power: the mixed log-mel is, to the mel bins'
    rounding, the log-mel of the two hits played together (a log-domain average, which is no
    sound, is far off); same-class partners share the class; silence (what pads a short clip) stays silence."""
    import torch

    from dub_models.classifier import feature_extractor
    from dub_models.features import MEL_FLOOR, log_mel_batch
    from dub_models.tasks import get_task
    from dub_models.train import mix_batch, mix_power, same_class_partners

    kit = load_soundfont(TIMGM).drum_kits()[0]
    eng = get_engine("fluidsynth", SR)
    kick, crash = (eng.render(TIMGM, kit, [Note(0, 0.05, n, 110)], 0.5, drum=True) for n in (36, 49))
    lam = 0.3
    together = math.sqrt(lam) * kick + math.sqrt(1 - lam) * crash  # powers lam and 1 - lam
    fe = feature_extractor(get_task("drums"))
    fe.do_normalize = False
    raw = log_mel_batch([kick, crash, together], fe)
    mean, std = float(raw.mean()), float(raw.std())
    x = torch.from_numpy((raw - mean) / (2 * std)).float()
    unit = 1 / (2 * std)
    mixed = mix_power(x[:1], x[1:2], torch.tensor([lam]), unit)[0]
    both = torch.from_numpy((raw[:2] > math.log(MEL_FLOOR) + 3).all(axis=0))  # bins where both hits sound
    db = lambda z: (z / unit) * 10 / math.log(10)
    err = (db(mixed[both]) - db(x[2][both])).abs().mean()
    naive = (db(lam * x[0][both] + (1 - lam) * x[1][both]) - db(x[2][both])).abs().mean()
    assert both.sum() >= 500 and err < 0.5 and naive > 5 * err, (both.sum(), err, naive)
    silent = torch.from_numpy((raw[:2] == np.float32(math.log(MEL_FLOOR))).all(axis=2).all(axis=0))  # past both hits' end: padding
    assert silent.sum() >= 10 and torch.allclose(mixed[silent], x[0][silent], atol=1e-4)  # silence mixed with silence stays silence
    assert torch.allclose(mix_power(x[:1], x[1:2], torch.ones(1), unit), x[:1])

    torch.manual_seed(0)
    y = torch.tensor([0, 0, 3, 5, 5, 5, 7, 0])
    p = same_class_partners(y)
    assert (y[p] == y).all() and p[6] == 6 and (p[[0, 1, 3, 4, 5, 7]] != torch.tensor([0, 1, 3, 4, 5, 7])).all()
    xb = x[[0, 1, 0, 1, 0, 1, 0, 1]]
    out, y2, own = mix_batch(xb, y, unit, mix_same=1.0)
    assert torch.equal(y2, y) and (own == 1).all() and torch.allclose(out[6], xb[6], atol=1e-5) and not torch.allclose(out[0], xb[0])
    out, y2, own = mix_batch(xb, y, unit, mixup=0.4)
    assert sorted(y2.tolist()) == sorted(y.tolist()) and ((own >= 0.5) & (own <= 1)).all()


def test_mixing_options_are_checked(drums_ds, tmp_path):
    from dub_models.train import TrainArgs, training_function

    for kw, msg in (({"mix_same": 1.5}, "--mix-same 1.5"), ({"mixup": -1}, "--mixup -1")):
        with pytest.raises(ValueError, match=msg):
            training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "a"),
                                        tracker=None, **kw))
    with pytest.raises(ValueError, match="single-label"):
        training_function(TrainArgs(task="effects", stream=True, output_dir=str(tmp_path / "b"), mixup=0.4,
                                    tracker=None))
    assert not (tmp_path / "a" / "model.safetensors").exists()
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "c"), epochs=1,
                                      arch="cnn", batch_size=32, max_train_examples=256, tracker=None, num_threads=2,
                                      mix_same=0.5, mixup=0.4))
    assert math.isfinite(res["history"][0]["loss/train"]) and res["history"][0]["loss/train"] > 0
    card = (tmp_path / "c" / "README.md").read_text()
    assert "50% of the clips layered with another clip of their class" in card and "mixup (Beta(0.4, 0.4)" in card


def test_classify_bad_input(trained, tmp_path):
    from dub_dataset.audio_io import AudioError
    from dub_models.classifier import classify_files

    out, _ = trained
    silent = tmp_path / "silence.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    short = tmp_path / "short.wav"  # 50 ms: padded by the feature extractor
    sf.write(short, (np.random.default_rng(0).standard_normal(800) * 0.3).astype(np.float32), 8000)
    res = classify_files([str(silent), str(short)], model=str(out))
    assert res[0]["silent"] and not res[1]["silent"] and len(res[1]["labels"]) == 3
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"OggS" + b"\x00" * 100)
    with pytest.raises(AudioError, match="bad.ogg"):
        classify_files([str(bad)], model=str(out))


def test_resume_continues_the_same_run(drums_ds, tmp_path):
    from safetensors.numpy import load_file

    from dub_models.train import TrainArgs, training_function

    common = dict(task="drums", dataset=str(drums_ds), batch_size=32, lr=1e-3, tracker=None, num_threads=2,
                  max_train_examples=160)
    training_function(TrainArgs(output_dir=str(tmp_path / "straight"), epochs=2, **common))
    training_function(TrainArgs(output_dir=str(tmp_path / "resumed"), epochs=2, epochs_per_run=1, **common))
    assert not (tmp_path / "resumed" / "run" / "checkpoints" / "checkpoint_1").exists()
    with pytest.raises(ValueError, match="reads 16000 Hz audio, this one 32000 Hz"):  # same shapes, other features
        training_function(TrainArgs(output_dir=str(tmp_path / "resumed"), epochs=2, resume=True, sample_rate=32000, **common))
    training_function(TrainArgs(output_dir=str(tmp_path / "resumed"), epochs=2, resume=True, **common))
    a = load_file(tmp_path / "straight" / "run" / "checkpoints" / "checkpoint_1" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "run" / "checkpoints" / "checkpoint_1" / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    hist = json.loads((tmp_path / "resumed" / "train_results.json").read_text())["history"]
    assert [h["epoch"] for h in hist] == [2]


def test_shared_sounds_scores_heard_and_unheard_sounds_apart(trained, drums_ds, tmp_path, capsys):
    """scripts/shared_sounds.py: the model's accuracy on a font's clips whose sound the other font
    stores and on the others, and (--confusion) its matrix on the unheard ones."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    import shared_sounds

    out, _ = trained
    png = tmp_path / "unshared.png"
    shared_sounds.main([TIMGM, GMBANK, "--model", str(out), "--dataset", str(drums_ds), "--split", "test",
                        "--confusion", str(png)])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # TimGM6mb in sf_GMbank: 326 samples; 292 of 329 kit keys play one (by bytes on any key, or by sound)
    assert report["samples_shared"] == 326 and report["kit_keys_shared"] == 292
    assert report["kit_keys_shared_bytes"] == 275 and report["kit_keys_shared_sound"] == 250
    clips = report["clips"]
    assert clips["all"] == clips["shared"] + clips["unshared"] and clips["unshared"] > 0
    cm = np.array(report["confusion_unshared"]["counts"])
    assert cm.sum() == clips["unshared"] and png.stat().st_size > 1000
    assert np.trace(cm) / cm.sum() == pytest.approx(report["accuracy"][str(out)]["unshared"])
    with pytest.raises(SystemExit):  # --confusion with no model to draw
        shared_sounds.main([TIMGM, GMBANK, "--confusion", str(tmp_path / "x.png")])
    assert "--confusion needs --model and --dataset" in capsys.readouterr().err


def test_push_model_fails_clearly_offline(trained, monkeypatch):
    from dub_models.hub import push_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="dub-org/drums"):
        push_model(trained[0], "dub-org/drums", token="hf_dummy")


def test_train_refuses_a_dataset_without_the_label(drums_ds, tmp_path):
    from dub_models.train import TrainArgs, training_function

    with pytest.raises(ValueError, match="no column 'program'|notes"):
        training_function(TrainArgs(task="instrument", dataset=str(drums_ds), output_dir=str(tmp_path), tracker=None))


def test_init_from_a_dub_model_starts_from_its_weights(trained, drums_ds, tmp_path):
    """--init-from a saved dub CNN: with lr 0 the run keeps its weights, so it scores what the source
    scored on the same held-out split (a fresh model would be near chance); another task is refused."""
    from safetensors.numpy import load_file

    from dub_models.classifier import from_checkpoint
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, training_function

    src, src_res = trained
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path), epochs=1,
                                      init_from=str(src), lr=0.0, batch_size=32, tracker=None, num_threads=2))
    # batch-norm running statistics still move in an lr-0 epoch, so a few clips may change (a
    # fresh model would be near chance, 0.08); the learned weights are compared exactly below
    assert res["test"]["accuracy"] == pytest.approx(src_res["test"]["accuracy"], abs=0.05)
    a, b = load_file(src / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    learned = [k for k in a if "running_" not in k and "num_batches" not in k]  # batch-norm statistics move
    assert a.keys() == b.keys() and learned and all(np.array_equal(a[k], b[k]) for k in learned)
    card = (tmp_path / "README.md").read_text()
    assert f"Fine-tuned from `{src}`" in card and "DubCNNForAudioClassification" in card
    # the base model's own recipe travels with the card (its folder may be replaced by this one)
    base = (src / "README.md").read_text().split("## Training", 1)[1].split("\n## ", 1)[0]
    assert f"### The model it was fine-tuned from (`{src}`)" in card
    assert base.strip().splitlines()[0] in card.split("### The model it was fine-tuned from", 1)[1]
    with pytest.raises(ValueError, match="dub model for the drums task, not for effects"):
        from_checkpoint(get_task("effects"), str(src))


def test_init_from_with_another_head_keeps_the_convolutions(trained, drums_ds, tmp_path):
    """--init-from a dub CNN with --arch cnn-freq: the source's convolutions (global pooling) under a
    new head that pools over time only; the card says so; an AST head on a CNN is refused."""
    from safetensors.numpy import load_file

    from dub_models.classifier import from_checkpoint
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, training_function

    src, _ = trained
    assert json.loads((src / "config.json").read_text())["pooling"] == "global"
    training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path), epochs=1, arch="cnn-freq",
                                init_from=str(src), lr=0.0, batch_size=32, tracker=None, num_threads=2))
    assert json.loads((tmp_path / "config.json").read_text())["pooling"] == "time"
    a, b = load_file(src / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    convs = [k for k in a if k.endswith("weight") and not k.startswith("classifier")]
    assert convs and all(np.array_equal(a[k], b[k]) for k in convs)
    assert a["classifier.weight"].shape[1] < b["classifier.weight"].shape[1]  # the head sees every frequency band
    assert "under a new head: `--arch cnn-freq`" in (tmp_path / "README.md").read_text()
    with pytest.raises(ValueError, match="--arch ast cannot start from"):
        from_checkpoint(get_task("drums"), str(src), "ast")


def test_widen_keeps_what_a_cnn_computes_then_trains(trained, drums_ds, tmp_path):
    """Net2Net widening: on real hits (the bundled examples, through the shipped drums model, whose head
    keeps the frequency axis, and through the fixture's, which pools globally) the wider
    model gives the same logits with no noise and the same answers with a little; `--widen` trains it
    and the card says so; narrower widths are refused."""
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoModelForAudioClassification

    from dub_dataset.audio_io import load_audio
    from dub_models.classifier import build_model
    from dub_models.cnn import widen
    from dub_models.features import DubFeatureExtractor
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, training_function

    shipped = Path(__file__).parents[1] / "dub_models" / "weights" / "drums"
    files = [Path(__file__).parents[1] / "examples" / n for n in ("kick.wav", "snare.flac", "closed_hihat.mp3", "crash.ogg")]
    fe = DubFeatureExtractor.from_pretrained(shipped)
    clips = [load_audio(f, fe.sampling_rate) for f in files]
    x = fe(clips, sampling_rate=fe.sampling_rate, return_tensors="pt")["input_values"]
    for folder in (shipped, trained[0]):
        model = AutoModelForAudioClassification.from_pretrained(folder).eval()
        wide = [c * 2 for c in model.config.channels]
        exact, noisy = widen(model, wide, noise=0).eval(), widen(model, wide, noise=0.01, seed=1).eval()
        with torch.no_grad():
            ref, same, near = model(x).logits, exact(x).logits, noisy(x).logits
        assert exact.config.channels == wide and exact.num_parameters() > 3 * model.num_parameters()
        assert torch.allclose(ref, same, atol=1e-4 * ref.abs().max()), (ref - same).abs().max()
        assert not torch.equal(ref, near) and torch.equal(ref.argmax(1), near.argmax(1))
    with pytest.raises(ValueError, match="each at least"):
        widen(model, [8, 8, 8, 8])
    with pytest.raises(ValueError, match="--widen widens a trained dub CNN"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "x"), arch="cnn",
                                    widen=[32, 96, 192, 320], tracker=None))
    build_model(get_task("drums"), "tiny", arch="ast").save_pretrained(tmp_path / "ast")
    with pytest.raises(ValueError, match="is of model type audio-spectrogram-transformer"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "z"),
                                    init_from=str(tmp_path / "ast"), widen=[32, 96, 192, 320], tracker=None))
    bad = subprocess.run([sys.executable, "-m", "dub_models.cli", "train", "--task", "drums", "--dataset", str(drums_ds),
                          "--output-dir", str(tmp_path / "y"), "--widen", "32,wide"], capture_output=True, text=True)
    assert bad.returncode == 2 and "channel counts separated by commas" in bad.stderr
    src, src_res = trained
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path), epochs=1,
                                      init_from=str(src), widen=[24, 64, 128, 200], lr=0.0, batch_size=32,
                                      tracker=None, num_threads=2))
    assert res["test"]["accuracy"] == pytest.approx(src_res["test"]["accuracy"], abs=0.05)
    assert json.loads((tmp_path / "config.json").read_text())["channels"] == [24, 64, 128, 200]
    assert load_file(tmp_path / "model.safetensors")["classifier.weight"].shape[1] == 2 * 200
    assert "widened from channels [16, 48, 96, 160] to [24, 64, 128, 200]" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize("arch", ["cnn", "cnn-freq"])
def test_cnn_registers_with_auto_classes_and_pipeline(tmp_path, arch):
    import torch
    from transformers import AutoModelForAudioClassification, pipeline

    from dub_models.classifier import build_model, feature_extractor
    from dub_models.tasks import get_task

    task = get_task("drums")
    model = build_model(task, arch=arch).eval()
    model.save_pretrained(tmp_path)
    feature_extractor(task).save_pretrained(tmp_path)
    again = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert type(again).__name__ == "DubCNNForAudioClassification"
    assert again.config.pooling == {"cnn": "global", "cnn-freq": "time"}[arch]
    x = torch.randn(2, 198, 128)
    with torch.no_grad():
        assert torch.equal(model(input_values=x).logits, again(input_values=x).logits)
    pipe = pipeline("audio-classification", model=str(tmp_path))
    out = pipe({"raw": np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1, "sampling_rate": SR}, top_k=12)
    assert sorted(o["label"] for o in out) == sorted(task.labels)


def test_stream_training_draws_fresh_examples(tmp_path, small_fonts):
    """--stream: no stored dataset; the generator feeds each epoch and the artefact is complete."""
    from dub_models.train import TrainArgs, training_function

    res = training_function(TrainArgs(task="drums", stream=True, stream_examples=64, soundfonts=small_fonts,
                                      output_dir=str(tmp_path), epochs=2, arch="cnn", tracker=None, num_threads=2))
    assert [h["epoch"] for h in res["history"]] == [1, 2] and 0 <= res["test"]["accuracy"] <= 1
    assert (tmp_path / "model.safetensors").exists() and "generator, streamed" in (tmp_path / "README.md").read_text()


def test_effects_training_leaves_spec_augment_off_by_default(small_dataset, tmp_path):
    """A SpecAugment frequency mask looks like a filter notch, a time mask like a gap between echoes:
    the effects task trains without masks unless asked (`--spec-augment`), and its card says which."""
    cmd = [sys.executable, "-m", "dub_models.cli", "train", "--task", "effects", "--dataset", str(small_dataset),
           "--arch", "cnn-freq", "--epochs", "1", "--tracker", "none", "--num-threads", "1"]
    subprocess.run([*cmd, "--output-dir", str(tmp_path / "default")], capture_output=True, text=True, check=True)
    card = (tmp_path / "default" / "README.md").read_text()
    assert "no SpecAugment" in card and "multi_label" in (tmp_path / "default" / "config.json").read_text()
    # the trainer picks each label's threshold on the validation split and saves it with the model
    th = json.loads((tmp_path / "default" / "config.json").read_text())["label_thresholds"]
    assert set(th) == set(names_of("effects")) and all(0.05 <= t <= 0.95 for t in th.values())
    subprocess.run([*cmd, "--output-dir", str(tmp_path / "masked"), "--spec-augment", "3", "--spec-eq", "4"],
                   capture_output=True, text=True, check=True)
    card = (tmp_path / "masked" / "README.md").read_text()
    assert "SpecAugment (3 frequency and time masks), random EQ (gains up to ±4 dB" in card
    # dub evaluate scores each label alone too: supports count the clips carrying it (dry: none)
    r = json.loads(subprocess.run([sys.executable, "-m", "dub_models.cli", "evaluate", "--task", "effects", "--model",
                                   str(tmp_path / "default"), "--dataset", str(small_dataset), "--split", "validation",
                                   "--json"], capture_output=True, text=True, check=True).stdout)
    from datasets import load_dataset

    val = load_dataset(str(small_dataset), "notes", split="validation")
    names = val.features["effects"].feature.names
    expected = {n: sum(i in e for e in val["effects"]) for i, n in enumerate(names)} | {"dry": sum(not e for e in val["effects"])}
    assert {k: v["support"] for k, v in r["per_label"].items()} == expected
    assert r["thresholds"] == th  # dub evaluate scores at the model's own thresholds
    assert all(0 <= v["f1"] <= 1 for v in r["per_label"].values())
    # and each GM family of the split alone ("robust across instruments"): the families partition the clips
    fams, fam = val.features["family"].names, list(val["family"])
    assert list(r["by_family"]) == [n for i, n in enumerate(fams) if i in fam]
    assert {k: v["examples"] for k, v in r["by_family"].items()} == {fams[i]: fam.count(i) for i in set(fam)}
    exact = sum(v["exact_match"] * v["examples"] for v in r["by_family"].values())
    assert exact == pytest.approx(r["exact_match"] * r["examples"], abs=0.01 * len(r["by_family"]))
    # scripts/ship_model.py writes those figures into the shipped card, beside another model's on the same clips
    ship = tmp_path / "shipped"
    subprocess.run([sys.executable, str(Path(__file__).parent.parent / "scripts" / "ship_model.py"), str(tmp_path / "default"),
                    "effects", "--dataset", str(small_dataset), "--split", "validation", "--compare", str(tmp_path / "masked"),
                    "--dest", str(ship)], capture_output=True, text=True, check=True)
    shipped = (ship / "README.md").read_text().split("## Held-out breakdown", 1)[1]
    assert f"| all | {r['examples']} | {r['f1_micro']:.3f} | {r['exact_match']:.3f} | " in shipped
    for n, v in r["by_family"].items():
        assert f"| {n} | {v['examples']} | {v['f1_micro']:.3f} | {v['exact_match']:.3f} | " in shipped
    assert (ship / "model.safetensors").read_bytes() == (tmp_path / "default" / "model.safetensors").read_bytes()
    # the multi-label confusion: rows are the clips carrying a label, the diagonal its recall
    conf = r["confusion"]
    assert conf["labels"] == list(r["per_label"]) and (tmp_path / "default" / "confusion_matrix.png").exists()
    assert conf["row_clips"] == [r["per_label"][n]["support"] for n in conf["labels"]]
    for i, n in enumerate(conf["labels"]):
        assert conf["counts"][i][i] == round(r["per_label"][n]["recall"] * r["per_label"][n]["support"])


def test_effect_strength_splits_each_effects_recall_by_quarter(small_dataset, capsys):
    """scripts/effect_strength.py: each effect's clips in quarters by recorded strength, gentlest first;
    the quarters' recalls, weighed by their clips, give back the effect's recall as dub evaluate reports it."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "scripts"))
    import effect_strength

    from dub_models.classifier import exclusive_label, label_thresholds
    from dub_models.evaluate import classifier_logits, evaluate_classifier
    from dub_models.train import multi_label_pred

    m, task, ds, logits, y = classifier_logits(None, str(small_dataset), "effects", "train")
    pred = multi_label_pred(logits, label_thresholds(m.config), exclusive_label(task.labels))
    columns = {c: ds[c] for c, _ in effect_strength.STRENGTH.values()}
    result = effect_strength.strength_recall(list(task.labels), pred, y > 0.5, columns, quarters=2)
    per_label = evaluate_classifier(str(small_dataset), "effects", split="train")["per_label"]
    assert result, "no effect with two clips in the split"
    for name, r in result.items():
        assert sum(r["clips"]) == per_label[name]["support"]  # every clip carrying the effect has its strength
        weighed = sum(c * rec for c, rec in zip(r["clips"], r["recall"]) if c)
        assert weighed / sum(r["clips"]) == pytest.approx(per_label[name]["recall"], abs=1e-3)
        column, stronger_up = effect_strength.STRENGTH[name]
        values = [v for v, on in zip(columns[column], y[:, task.labels.index(name)] > 0.5) if on]
        (a, b), (c, d) = r["ranges"]  # gentlest quarter first: a low-pass's highest cut-off, a reverb's least wet
        assert b == c and (a, d) == pytest.approx((min(values), max(values)) if stronger_up else (max(values), min(values)))
    # the filters by cut-off over the note's fundamental: the bins hold every filtered clip once
    for name, rows in effect_strength.cutoff_vs_pitch(list(task.labels), pred, y > 0.5, ds["filter_cutoff_hz"],
                                                      ds["pitch"]).items():
        assert sum(n for _, n, _ in rows) == per_label[name]["support"]
        if rows:
            assert sum(n * rec for _, n, rec in rows) / sum(n for _, n, _ in rows) == pytest.approx(per_label[name]["recall"], abs=1e-3)
    rows = effect_strength.strength_table(result, quarters=2)
    assert len(rows) == 2 + len(result) and all(f"| {n} | " in "".join(rows) for n in result)
    # bad input: a dataset that is not there gets one error line, no traceback
    assert effect_strength.main(["--dataset", str(small_dataset / "nowhere")]) == 2
    assert "effect_strength: error:" in capsys.readouterr().err


def names_of(task: str) -> tuple:
    from dub_models.tasks import get_task

    return get_task(task).labels


def test_label_thresholds_pick_each_labels_best_f1():
    from dub_models.tasks import get_task
    from dub_models.train import metrics, multi_label_pred, tune_label_thresholds

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 8))
    assert (multi_label_pred(logits) == (logits > 0)).all()
    assert (multi_label_pred(logits, np.full(8, 0.3)) == (1 / (1 + np.exp(-logits)) >= 0.3)).all()
    # positives score 0.31-0.45, negatives 0.01-0.18: at 0.5 nothing is found, the picked thresholds find all
    task = get_task("effects")
    dry = task.labels.index("dry")
    y = (rng.random((400, 8)) < 0.3).astype(np.float32)
    y[:, dry] = np.delete(y, dry, axis=1).sum(1) == 0  # dry: no effect, as the dataset's labels say
    shifted = np.where(y > 0.5, rng.uniform(-0.8, -0.2, y.shape), rng.uniform(-5, -1.5, y.shape))
    th = tune_label_thresholds(shifted, y)
    assert ((th >= 0.2) & (th <= 0.3)).all()
    assert metrics(task, shifted, y)["f1_micro"] == 0 and metrics(task, shifted, y, th)["f1_micro"] == 1.0
    # dry and the effects exclude each other: the side further above its threshold stays
    reverb = task.labels.index("reverb")
    scores = np.full((2, 8), 0.01)
    scores[0, [dry, reverb]] = 0.9, 0.6
    scores[1, [dry, reverb]] = 0.6, 0.95
    pred = multi_label_pred(np.log(scores / (1 - scores)), np.full(8, 0.5), dry)
    assert pred.sum(1).tolist() == [1, 1] and pred[0, dry] and pred[1, reverb]
    assert multi_label_pred(np.log(scores / (1 - scores)), np.full(8, 0.5)).sum() == 4  # without the rule


def test_thresholds_are_tuned_together_under_the_dry_rule():
    """With dry and the effects excluding each other, one label's threshold changes what another's
    decodes to: tuned together (``exclusive``, what scripts/dry_rule.py --tune measures), micro-F1 under
    the rule beats the thresholds each picked alone on clips where dry is over-confident on effected ones."""
    from dub_models.tasks import get_task
    from dub_models.train import metrics, tune_label_thresholds

    task = get_task("effects")
    dry = task.labels.index("dry")
    rng = np.random.default_rng(0)
    n = 1000
    y = (rng.random((n, 8)) < 0.15).astype(np.float32)
    y[:, dry] = np.delete(y, dry, axis=1).sum(1) == 0
    s = np.where(y > 0.5, rng.uniform(0.3, 0.5, y.shape), rng.uniform(0.0, 0.32, y.shape))  # weak effects
    s[:, dry] = np.where(y[:, dry] > 0.5, rng.uniform(0.85, 0.99, n), rng.uniform(0.6, 0.97, n))
    logits = np.log(s / (1 - s))
    alone, together = tune_label_thresholds(logits, y), tune_label_thresholds(logits, y, exclusive=dry)
    f1_alone, f1_together = (metrics(task, logits, y, th)["f1_micro"] for th in (alone, together))
    assert f1_together > f1_alone + 0.01
    assert set(together.tolist()) <= set(np.round(np.arange(0.05, 0.96, 0.05), 2).tolist())  # still grid values


def test_multi_label_confusion_counts_rows_by_true_label(tmp_path):
    from PIL import Image

    from dub_models.card import confusion_png
    from dub_models.tasks import get_task
    from dub_models.train import confusion

    task = get_task("effects")
    ix = {n: i for i, n in enumerate(task.labels)}
    y = np.zeros((3, len(task.labels)), np.float32)
    y[0, [ix["reverb"], ix["delay"]]] = 1  # reverb and delay, predicted reverb and chorus
    y[1, ix["reverb"]] = 1                  # reverb, predicted nothing
    y[2, ix["dry"]] = 1                     # dry, predicted dry
    logits = -np.ones_like(y)
    logits[0, [ix["reverb"], ix["chorus"]]] = 1
    logits[2, ix["dry"]] = 1
    cm, names, rows = confusion(task, logits, y)
    assert names == list(task.labels) and rows[ix["reverb"]] == 2 and rows[ix["delay"]] == 1
    assert cm[ix["reverb"], ix["reverb"]] == 1 and cm[ix["reverb"], ix["chorus"]] == 1
    # clip 0 carries reverb, so its reverb is no error in the delay row; its chorus is
    assert cm[ix["delay"], ix["reverb"]] == 0 and cm[ix["delay"], ix["chorus"]] == 1
    assert cm[ix["delay"], ix["delay"]] == 0 and cm[ix["dry"], ix["dry"]] == 1
    assert cm.sum() == 4  # two right labels, chorus wrongly added in two rows
    confusion_png(cm * 700, names, tmp_path / "c.png", "t", rows * 700)  # counts over 999 drawn as "1.4k"
    assert Image.open(tmp_path / "c.png").size[0] > 150 + 28 * len(names)


def test_a_model_trained_at_32_khz_reads_every_file_at_its_own_rate(drums_ds, tmp_path):
    """``--sample-rate 32000`` on a 16 kHz dataset: the clips are resampled, the folder records the
    rate, and every reader (``dub evaluate``, ``dub classify``, ``pipeline``) resamples to it, so they
    agree with the trainer; starting a 16 kHz run from it is refused with both rates named."""
    from transformers import pipeline

    from dub_dataset.audio_io import load_audio
    from dub_models.train import TrainArgs, training_function

    out = tmp_path / "m32"
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(out), epochs=4, arch="cnn",
                                      batch_size=32, lr=2e-3, tracker=None, num_threads=2, sample_rate=32000))
    pre = json.loads((out / "preprocessor_config.json").read_text())
    assert pre["sampling_rate"] == 32000 and pre["feature_extractor_type"] == "DubFeatureExtractor"
    assert res["test"]["accuracy"] > 2 / 12, res["test"]
    ev = subprocess.run([sys.executable, "-m", "dub_models.cli", "evaluate", "--task", "drums", "--model", str(out),
                         "--dataset", str(drums_ds), "--json"], capture_output=True, text=True, check=True)
    r = json.loads(ev.stdout)
    assert r["accuracy"] == pytest.approx(res["test"]["accuracy"], abs=2.5 / r["examples"])
    kit = load_soundfont(TIMGM).drum_kits()[0]
    x = get_engine("fluidsynth", 44100).render(TIMGM, kit, [Note(0, 0.1, 42, 110)], 1.0, drum=True)
    sf.write(tmp_path / "hat.wav", x, 44100)
    ffmpeg("-i", str(tmp_path / "hat.wav"), str(tmp_path / "hat.mp3"))
    cli = subprocess.run([sys.executable, "-m", "dub_models.cli", "classify", "--model", str(out), "--json",
                          str(tmp_path / "hat.mp3")], capture_output=True, text=True, check=True)
    got = json.loads(cli.stdout)[0]["labels"]
    direct = pipeline("audio-classification", model=str(out))(
        {"raw": load_audio(tmp_path / "hat.mp3", 32000), "sampling_rate": 32000}, top_k=3)
    assert [d["label"] for d in direct] == [s["label"] for s in got]
    assert direct[0]["score"] == pytest.approx(got[0]["score"], abs=1e-5)
    with pytest.raises(ValueError, match="reads 32000 Hz audio"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "again"), epochs=1,
                                    init_from=str(out), sample_rate=16000, tracker=None))


def test_distillation_learns_the_teachers_answers_clip_by_clip(trained, drums_ds, tmp_path):
    """``--teacher``: a teacher whose output rows are shifted by one class answers "class c + 1" where
    the trained model answers c. A student trained on its soft targets alone (``distill=1``: no label
    in the loss) learns the shifted answers on held-out clips; soft targets misaligned with their
    clips (a shuffled loader) or ignored would leave it at chance or on the true labels. The teacher's
    logits are cached for --resume, and a teacher with other labels is refused."""
    from safetensors.numpy import load_file, save_file

    from dub_dataset import load_dub_dataset
    from dub_models.evaluate import classifier_logits
    from dub_models.tasks import get_task
    from dub_models.train import TrainArgs, cache_teacher_logits, teacher_probs, training_function

    src, _ = trained
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        (shifted / name).write_bytes((src / name).read_bytes())
    w = load_file(src / "model.safetensors")
    for k in ("classifier.weight", "classifier.bias"):  # row j answers what row j - 1 answered
        w[k] = np.roll(w[k], 1, axis=0)
    save_file(w, shifted / "model.safetensors")
    out = tmp_path / "student"
    res = training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(out), epochs=6, arch="cnn",
                                      batch_size=32, lr=2e-3, tracker=None, num_threads=2, seed=3,
                                      teachers=[str(shifted)], distill=1.0))
    _, _, _, teacher_z, y = classifier_logits(str(shifted), str(drums_ds), "drums", "test")
    _, _, _, student_z, _ = classifier_logits(str(out), str(drums_ds), "drums", "test")
    agree = float((student_z.argmax(1) == teacher_z.argmax(1)).mean())
    assert agree > 3 / 12, agree
    assert float((student_z.argmax(1) == (y + 1) % 12).mean()) > float((student_z.argmax(1) == y).mean())
    assert res["test"]["accuracy"] < agree  # scored on the true labels, which it never saw
    cache = out / "run" / "teachers"
    cached = list(cache.glob("teacher-*.npz"))
    assert len(cached) == 1 and np.load(cached[0])["logits"].shape[1] == 12
    # a cache file that does not fit the split is named; --resume keeps the file, a fresh run rewrites it
    args = TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(out), teachers=[str(shifted)])
    train = load_dub_dataset(str(drums_ds), "drums", split="train")
    np.savez(cached[0], logits=np.zeros((3, 12), np.float32))
    cache_teacher_logits(args, get_task("drums"), train, cache, reuse=True)
    with pytest.raises(ValueError, match="cached logits of shape"):
        teacher_probs(args, get_task("drums"), len(train), cache)
    cache_teacher_logits(args, get_task("drums"), train, cache, reuse=False)
    q = teacher_probs(args, get_task("drums"), len(train), cache)
    assert q.shape == (len(train), 12) and np.allclose(q.sum(1), 1, atol=1e-5)
    assert f"distilled from `{shifted}`" in (out / "README.md").read_text()
    reordered = tmp_path / "reordered_labels"
    reordered.mkdir()
    cfg = json.loads((src / "config.json").read_text())
    cfg["id2label"] = {str(i): n for i, n in enumerate(reversed([cfg["id2label"][str(i)] for i in range(12)]))}
    cfg["label2id"] = {n: int(i) for i, n in cfg["id2label"].items()}
    (reordered / "config.json").write_text(json.dumps(cfg))
    for name in ("preprocessor_config.json", "model.safetensors"):
        (reordered / name).write_bytes((src / name).read_bytes())
    with pytest.raises(ValueError, match="are not the drums task's"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "bad"), epochs=1,
                                    arch="cnn", tracker=None, teachers=[str(reordered)]))
    with pytest.raises(ValueError, match="--distill 0: the soft targets' weight"):
        training_function(TrainArgs(task="drums", dataset=str(drums_ds), output_dir=str(tmp_path / "bad"), epochs=1,
                                    tracker=None, teachers=[str(src)], distill=0.0))
