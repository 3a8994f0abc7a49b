#!/bin/sh
# Converts and verifies every fixture directory given (default: each one under
# $VIMCONVERT_EXTRA_FIXTURES) with bin/vimconvert, in four forms: the fp32
# plugin model, --scan standard, --dtype float16 and --dtype bfloat16, and
# prints one markdown row per form: max |Δ| of the ONNX logits against the
# official fp32 logits and top-1 agreement (verify --expected).
# Run `make all` first. Models are written to ${TMPDIR:-/tmp}/vimconvert-extra.
set -eu
bin=${VIMCONVERT:-bin/vimconvert}
out=${TMPDIR:-/tmp}/vimconvert-extra
mkdir -p "$out"
if [ $# -eq 0 ]; then
	: "${VIMCONVERT_EXTRA_FIXTURES:?set it or name fixture directories}"
	set -- "$VIMCONVERT_EXTRA_FIXTURES"/*/
fi
echo "| fixture | model | max abs diff vs official logits | top-1 agree | verify |"
echo "| --- | --- | --- | --- | --- |"
for dir in "$@"; do
	dir=${dir%/}
	name=$(basename "$dir")
	for form in "plugin fp32:" "standard fp32:--scan standard" "plugin float16:--dtype float16" "plugin bfloat16:--dtype bfloat16"; do
		label=${form%%:*}
		flags=${form#*:}
		model="$out/$name-$(echo "$label" | tr ' ' '-').onnx"
		# shellcheck disable=SC2086 # flags is a list of words
		if ! "$bin" "$dir/checkpoint.pth" -o "$model" $flags --cls-token middle >/dev/null 2>"$model.err"; then
			echo "| $name | $label | - | - | convert FAILED: $(tail -n 1 "$model.err") |"
			continue
		fi
		rc=0
		"$bin" verify "$dir/checkpoint.pth" "$model" --input "$dir/input.pth" \
			--expected "$dir/expected.pth" --json >"$model.json" 2>"$model.err" || rc=$?
		if [ ! -s "$model.json" ]; then
			echo "| $name | $label | - | - | verify FAILED (exit $rc): $(tail -n 1 "$model.err") |"
			continue
		fi
		python3 - "$model.json" "$name" "$label" "$rc" <<'EOF'
import json, sys
path, name, label, rc = sys.argv[1:]
r = json.load(open(path))
e = next(o["report"] for o in r["expected_outputs"] if o["name"] == "onnx logits")
verdict = "pass" if rc == "0" else f"FAIL (exit {rc}, tol {r['tol']:g})"
print(f"| {name} | {label} | {e['max_abs']:.3g} | {e['top1_agree']}/{e['top1_rows']} | {verdict} |")
EOF
	done
done
