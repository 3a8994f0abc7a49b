# vimconvert build. `make` builds bin/vimconvert and the plugin;
# `make demo` sets up and converts + verifies the bundled checkpoint;
# `make test` runs every test.
ORT_VERSION ?= 1.29.0
ORT_LIB     := third_party/onnxruntime/$(ORT_VERSION)/libonnxruntime.so.1
PLUGIN      := build/libvimconvert_ops.so
GO          ?= go
export CGO_ENABLED := 1

.PHONY: all setup plugin vimconvert demo test fmt-check clean

all: setup plugin vimconvert

setup: $(ORT_LIB)

$(ORT_LIB):
	bash scripts/fetch-onnxruntime.sh $(ORT_VERSION)

plugin:
	$(MAKE) -C ops

vimconvert:
	$(GO) build -o bin/vimconvert ./cmd/vimconvert

demo: all
	./bin/vimconvert inspect fixtures/vim_t_d2/checkpoint.pth

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: all fmt-check
	$(GO) vet ./...
	$(GO) test -count=1 ./...

clean:
	rm -rf bin build
	$(MAKE) -C ops clean
