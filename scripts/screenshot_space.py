#!/usr/bin/env python
"""docs/space.png: the app after transcribing the bundled song (dub app on 127.0.0.1, Debian's
chromium through Playwright)."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "-m", "dub_models.cli", "app", "--port", str(port)], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            page.goto(url, wait_until="networkidle")
            page.locator("#audio-in input[type=file]").first.set_input_files(str(ROOT / "examples" / "song.mp3"))
            page.wait_for_timeout(1500)
            page.click("#transcribe-btn")
            page.wait_for_selector("#pianoroll img", timeout=120_000)
            page.wait_for_timeout(1500)
            out = ROOT / "docs" / "space.png"
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        print(f"wrote {out}")
    finally:
        app.terminate()


if __name__ == "__main__":
    main()
