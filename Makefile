# Two commands on a fresh Debian/Ubuntu machine:  make demo   and   make test
# Both run scripts/setup.sh first (apt packages, .venv, pinned Python packages; idempotent).
PY := .venv/bin/python
DUB := .venv/bin/dub

.PHONY: setup demo test test-all bench
setup:
	bash scripts/setup.sh

demo: setup
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
	$(PY) scripts/bench_generate.py
