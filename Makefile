# Two commands on a fresh Debian/Ubuntu machine:  make demo   and   make test
# Both run scripts/setup.sh first (apt packages, .venv, pinned Python packages; idempotent).
PY := .venv/bin/python
DUB := .venv/bin/dub

.PHONY: setup demo test test-all bench app
setup:
	bash scripts/setup.sh

demo: setup
	$(DUB) transcribe examples/song.mp3 -o demo_out/song.mid
	$(DUB) generate --config drums --num-examples 60 --out demo_out/dataset --seed 0 --quiet
	$(DUB) generate --config notes --num-examples 40 --out demo_out/dataset --seed 0 --quiet
	$(DUB) info demo_out/dataset --config drums
	$(DUB) info demo_out/dataset --config notes
	$(DUB) classify --task drums examples/kick.wav examples/snare.flac examples/closed_hihat.mp3 examples/crash.ogg

test: setup
	$(PY) -m pytest -q

test-all: setup
	$(PY) -m pytest -q -m ""

bench: setup
	$(PY) -m pip install -q -r requirements-bench.txt && $(PY) -m pip install -q --no-deps basic-pitch==0.4.0
	$(PY) scripts/bench_generate.py
	$(PY) scripts/bench_train.py
	$(PY) scripts/bench_transcribe.py

app: setup
	$(DUB) app
