# vimconvert build.
#   make          build bin/vimconvert and the plugin (build/libvimconvert_ops.so)
#   make setup    install system packages (gcc, make, npm, python3-onnx,
#                 libjpeg62-turbo-dev, valgrind) if missing and fetch ONNX Runtime
#                 1.29.0 (+ 1.24.3, 1.30.0, 1.31.1 for the C-host compatibility tests)
#   make demo     setup + convert the bundled fixtures/vim_t_d2 checkpoint + verify it
#   make test     setup + build + gofmt/vet + every test (+ -race and a short fuzz run)
#   make dist     the release bundle dist/vimconvert-VERSION-linux-ARCH.tar.gz
# The runtime everything uses, and the others the C-host compatibility tests
# also run the plugin in (the same set as ops.TestedRuntimes: checked by ops'
# TestMakefileFetchesTestedRuntimes).
ORT_VERSION         ?= 1.29.0
ORT_COMPAT_VERSIONS ?= 1.24.3 1.30.0 1.31.1
ORT_LIB     := third_party/onnxruntime/$(ORT_VERSION)/libonnxruntime.so.1
ORT_COMPAT_LIBS := $(foreach v,$(ORT_COMPAT_VERSIONS),third_party/onnxruntime/$(v)/libonnxruntime.so.1)
PLUGIN      := build/libvimconvert_ops.so
BIN         := bin/vimconvert
GO          ?= go
# Packages fast enough to run again under the race detector.
RACE_PKGS   ?= ./runtime ./internal/... ./cmd/... ./convert/... ./verify ./graph ./ops
FUZZ_TIME   ?= 10s
DEMO_CKPT   := fixtures/vim_t_d2/checkpoint.pth
DEMO_OUT    := out/vim_t_d2.onnx
export CGO_ENABLED := 1

.PHONY: all setup deps ort plugin vimconvert dist demo test test-go test-race fuzz fmt-check vet clean

all: plugin vimconvert

setup: deps ort

deps:
	@bash scripts/install-deps.sh

ort: $(ORT_LIB) $(ORT_COMPAT_LIBS)

third_party/onnxruntime/%/libonnxruntime.so.1:
	bash scripts/fetch-onnxruntime.sh $*

plugin:
	$(MAKE) -C ops

# Always rebuilt: go build is incremental and knows the dependencies.
vimconvert:
	$(GO) build -o $(BIN) ./cmd/vimconvert

# Release bundle: binary, plugin, ORT, licences (scripts/make-dist.sh).
dist: all $(ORT_LIB)
	ORT_VERSION=$(ORT_VERSION) GO=$(GO) bash scripts/make-dist.sh dist

demo: setup all
	@mkdir -p out
	./$(BIN) convert $(DEMO_CKPT) -o $(DEMO_OUT)
	./$(BIN) verify $(DEMO_CKPT) $(DEMO_OUT)
	./$(BIN) predict --model $(DEMO_OUT) --input cmd/vimconvert/testdata/predict_vim_t_d2_x0.npy --output out/logits.npy
	./$(BIN) classify $(DEMO_OUT) runtime/preprocess/testdata/images/photo_chelsea.png --top 3

# Tracked Go files (every Go file outside third_party/ when not a git checkout).
fmt-check:
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './third_party/*'); \
	out=$$(gofmt -l $$files </dev/null); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-race:
	$(GO) test -count=1 -race -short -timeout 15m $(RACE_PKGS)

# A short run of every fuzz target of the untrusted-input readers. Input
# minimisation is capped so that a new input does not stall a short run; the
# script tells a found failure from Go's end-of-fuzztime deadline race.
FUZZ_PKGS   ?= convert/torchfile internal/npy graph/onnxfile runtime/preprocess
FUZZ_MINIMIZE_TIME ?= 2s
fuzz:
	GO=$(GO) bash scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_MINIMIZE_TIME) $(FUZZ_PKGS)

test: setup all fmt-check vet
	$(MAKE) test-go
	$(MAKE) test-race
	$(MAKE) fuzz

clean:
	rm -rf bin build out dist
	$(MAKE) -C ops clean
