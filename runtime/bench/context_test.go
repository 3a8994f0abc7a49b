package bench

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/internal/testutil"

	"github.com/vimconvert/vimconvert/graph/graphtest"
)

// TestRunContextCancelled: cancelling the context while a worker runs
// kills the worker, removes the temporary models and returns the
// context's error at once (not after the worker's 30 s).
func TestRunContextCancelled(t *testing.T) {
	tmp := testutil.PrivateTMPDIR(t)
	opts := Options{Source: "m.pth", Model: graphtest.Model(graphtest.Spec{Seed: 1}), Batches: []int{1}, Threads: []int{1},
		Variants: map[string]bool{VariantPlugin: true}, Runs: 1, Rounds: 1,
		Worker: []string{"/bin/sh", "-c", "sleep 30", "worker"}} // the spec becomes $1
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ents, _ := os.ReadDir(tmp); len(ents) == 0; ents, _ = os.ReadDir(tmp) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the models are built and the worker started
		cancel()
	}()
	start := time.Now()
	_, err := RunContext(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunContext = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("RunContext took %v after the cancel: the worker was not killed", took)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("TMPDIR holds %s after the cancel", ents[0].Name())
	}
}
