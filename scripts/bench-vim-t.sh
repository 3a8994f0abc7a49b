#!/usr/bin/env bash
# Reproduces the numbers in BENCHMARKS.md: Vim-T (full depth, the official
# fixture checkpoint) at 224 for batch 1/8 and 1/2 threads with every variant,
# then the resolution sweep 224..1248 with the plugin and its no-scan floor.
# JSON results go to $OUT (default /tmp/vimconvert-bench). Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
CKPT=${CKPT:-../shared/fixtures/vim_t/checkpoint.pth}
ROUNDS=${ROUNDS:-2}
make all >/dev/null
OUT=${OUT:-/tmp/vimconvert-bench}
mkdir -p "$OUT"
echo "== Vim-T 224, batch 1/8, threads 1/2, all variants" >&2
bin/vimconvert bench "$CKPT" --batch 1,8 --threads 1,2 --rounds "$ROUNDS" --max-seconds 10 --json \
  > "$OUT/vim_t_224.json"
echo "== resolution sweep 224,448,896,1248 (plugin, floor), batch 1" >&2
bin/vimconvert bench "$CKPT" --batch 1 --threads 1,2 --img-size 224,448,896,1248 \
  --variants plugin,floor --rounds "$ROUNDS" --max-seconds 10 --json \
  > "$OUT/vim_t_sweep.json"
echo "wrote $OUT/vim_t_224.json $OUT/vim_t_sweep.json" >&2
