"""The Gradio app, served for real on 127.0.0.1 (`dub app`) with the shipped models, called with
gradio_client and driven in Debian's chromium through Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mido
import pytest

from conftest import ffmpeg

ROOT = Path(__file__).resolve().parent.parent
SONG = ROOT / "examples" / "song.mp3"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, GRADIO_TEMP_DIR=str(tmp_path_factory.mktemp("gradio")), GRADIO_ANALYTICS_ENABLED="False")
    log = open(tmp_path_factory.mktemp("log") / "app.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "dub_models.cli", "app", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail("dub app exited:\n" + log.read())
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("dub app did not start in 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def test_transcribe_endpoint_returns_a_real_midi_first(client):
    from gradio_client import handle_file

    midi, roll, preview, tracks, effects, status = client.predict(
        handle_file(str(SONG)), ["bass", "guitar", "strings", "drums"], 0.5, 0, api_name="/transcribe")
    mid = mido.MidiFile(midi)
    notes = [m for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert notes and Path(roll).stat().st_size > 1000 and Path(preview).stat().st_size > 1000
    families = {row[1] for row in tracks["data"]}
    assert families and families <= {"bass", "guitar", "strings", "drums"}  # only the kept instruments
    assert sum(row[3] for row in tracks["data"]) == len(notes)
    if "drums" in families:
        assert any(m.channel == 9 for t in mid.tracks for m in t if m.type == "note_on")
    assert {row[0] for row in effects["data"]} >= {"reverb", "distortion", "dry"}
    assert "song.mp3" in status and "notes" in status


def test_other_endpoints_classify_and_draw(client):
    from gradio_client import handle_file

    labels, _ = client.predict(handle_file(str(ROOT / "examples" / "snare.flac")), "drums", api_name="/classify")
    assert labels["label"] == "snare"
    gallery = client.predict(handle_file(str(SONG)), api_name="/spectrograms")
    assert [g["caption"] for g in gallery] == ["DFT, Hamming window", "DFT, Dolph-Chebyshev window", "peak spectrum", "log-mel"]


@pytest.mark.parametrize("case", ["text", "empty", "truncated", "wrong_type", "too_long"])
def test_bad_uploads_get_a_clear_message(client, tmp_path, case):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    if case == "text":
        f = tmp_path / "song.mp3"
        f.write_text("this is not audio\n" * 100)
        expect = "not readable audio"
    elif case == "empty":
        f = tmp_path / "empty.wav"
        f.write_bytes(b"")
        expect = "empty"
    elif case == "truncated":
        f = tmp_path / "cut.mp3"
        f.write_bytes(SONG.read_bytes()[:200])
        expect = "cut.mp3"
    elif case == "wrong_type":
        f = tmp_path / "notes.txt"
        f.write_text("C D E")
        expect = "not an audio file type"
    else:
        f = tmp_path / "long.mp3"
        ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "660", "-b:a", "8k", str(f))
        expect = "10-minute limit"
    with pytest.raises(AppError) as e:
        client.predict(handle_file(str(f)), ["piano"], 0.5, 0, api_name="/transcribe")
    assert expect in str(e.value) and "Traceback" not in str(e.value)


def test_ten_concurrent_requests_are_all_served(client, tmp_path):
    from gradio_client import handle_file

    clip = tmp_path / "clip.mp3"
    ffmpeg("-i", str(SONG), "-t", "5", str(clip))
    jobs = [client.submit(handle_file(str(clip)), ["drums", "bass"], 0.5, 100, api_name="/transcribe") for _ in range(10)]
    results = [j.result(timeout=300) for j in jobs]
    assert len(results) == 10 and all(j.status().success for j in jobs)
    # the same input gives the same MIDI, however the requests interleave
    assert len({Path(r[0]).read_bytes() for r in results}) == 1
    assert len({r[5].split(" in ")[0] for r in results}) == 1
    assert mido.MidiFile(results[0][0]).tracks


def test_old_outputs_are_cleaned_up(tmp_path, monkeypatch):
    from dub_models import space

    monkeypatch.setattr(space.tempfile, "gettempdir", lambda: str(tmp_path))
    first = space._output_dir()
    (first / "x.mid").write_bytes(b"MThd")
    old = time.time() - space.OUTPUT_TTL_S - 10
    os.utime(first, (old, old))
    second = space._output_dir()
    assert second.exists() and not first.exists()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/setup.sh installs it)")
def test_browser_upload_shows_midi_link_and_piano_roll(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.goto(app_url, wait_until="networkidle")
        assert "10 minutes" in page.content()  # the limits are stated on the page
        page.locator("#audio-in input[type=file]").first.set_input_files(str(SONG))
        page.wait_for_timeout(1500)
        page.click("#transcribe-btn")
        link = page.wait_for_selector("#midi-out a[href*='.mid']", timeout=120_000)
        page.wait_for_selector("#pianoroll img", timeout=60_000)
        with urllib.request.urlopen(link.get_attribute("href")) as r:  # the link serves a MIDI file
            assert r.read(4) == b"MThd"
        assert "notes" in page.locator("#status").inner_text()
        # a bad upload: the message shows on the page, no stack trace
        bad = tmp_path / "broken.mp3"
        bad.write_text("not audio\n" * 100)
        page.goto(app_url, wait_until="networkidle")
        page.locator("#audio-in input[type=file]").first.set_input_files(str(bad))
        page.wait_for_timeout(1500)
        page.click("#transcribe-btn")
        page.wait_for_selector("text=not readable audio", timeout=60_000)
        assert "Traceback" not in page.content()
        browser.close()


def test_space_folder_runs_the_same_app(tmp_path):
    """The Space as deployed: built folder, app.py imports the copied packages, not the checkout's."""
    out = tmp_path / "space"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_space.py"), "--out", str(out)], check=True)
    meta = (out / "README.md").read_text().split("---")[1]
    assert "sdk: gradio" in meta and "app_file: app.py" in meta
    assert (out / "dub_models" / "weights" / "transcriber" / "model.safetensors").exists()
    assert (out / "examples" / "song.mp3").exists() and "ffmpeg" in (out / "packages.txt").read_text()
    code = "import app, dub_models; print(dub_models.__file__); print(type(app.demo).__name__)"
    r = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0].startswith(str(out)) and r.stdout.split()[1] == "Blocks"


@pytest.mark.parametrize("fmt", ["m4a", "ogg", "flac"])
def test_other_upload_formats(client, tmp_path, fmt):
    from gradio_client import handle_file

    f = tmp_path / f"clip.{fmt}"
    ffmpeg("-i", str(SONG), "-t", "4", str(f))
    midi, *_, status = client.predict(handle_file(str(f)), ["drums", "bass", "strings", "guitar"], 0.5, 0,
                                      api_name="/transcribe")
    assert mido.MidiFile(midi).tracks and f"clip.{fmt}" in status
