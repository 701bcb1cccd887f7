#!/usr/bin/env bash
# Regenerate the audio shipped in data/ (speech.wav, speech_noisy.wav, guitar.wav,
# guitar_test.wav) deterministically. Run from anywhere: paths are relative to the repo root.
#
#   apt-get update && apt-get install -y espeak-ng sox    # once, on Debian
#   bash scripts/make_data.sh                             # uses .venv/bin/python if present
#
# Set PYTHON to use another interpreter (it needs numpy and soundfile).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make_data.sh: '$tool' not found; install it: apt-get install -y espeak-ng sox" >&2
        exit 1
    fi
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

echo "$(espeak-ng --version | head -n 1)"
echo "sox: $(sox --version | head -n 1 | sed 's/^sox: *//')"
"$PYTHON" scripts/make_data.py --out data "$@"
