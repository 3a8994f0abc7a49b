package cleanup

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Grace is how long Notify lets the work stop by itself (its context
// cancelled) after the first signal before it removes what is registered
// and exits anyway. A blocking call that does not watch the context (an
// ONNX Runtime run, a checkpoint read) ends there.
const Grace = 2 * time.Second

// Interrupt is the process's answer to SIGINT and SIGTERM, made by Notify.
type Interrupt struct {
	ctx    context.Context
	cancel context.CancelFunc
	out    io.Writer
	name   string

	mu  sync.Mutex
	sig os.Signal

	exitOnce sync.Once
}

// Notify starts watching SIGINT and SIGTERM. The first one cancels the
// returned Interrupt's Context; when the work has not returned after Grace,
// or at a second signal, Exit runs on its own. name starts the one line
// Exit prints on out ("vimconvert: interrupted ...").
func Notify(parent context.Context, out io.Writer, name string) *Interrupt {
	ctx, cancel := context.WithCancel(parent)
	in := &Interrupt{ctx: ctx, cancel: cancel, out: out, name: name}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		in.mu.Lock()
		in.sig = s
		in.mu.Unlock()
		cancel()
		select {
		case <-ch:
		case <-time.After(Grace):
		}
		in.Exit()
	}()
	return in
}

// Context is cancelled at the first SIGINT or SIGTERM.
func (in *Interrupt) Context() context.Context { return in.ctx }

// Signal returns the signal received, or nil.
func (in *Interrupt) Signal() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.sig
}

// Exit, once a signal was received, kills the registered worker processes,
// removes the registered temporaries, prints one line saying so and exits
// with ExitCode of the signal (130 for SIGINT, 143 for SIGTERM). It holds
// the registry lock until the process ends, so no temporary is created or
// renamed into place after it starts. Without a signal it returns.
func (in *Interrupt) Exit() {
	s := in.Signal()
	if s == nil {
		return
	}
	in.exitOnce.Do(func() {
		registry.Lock() // never released: the process ends here
		paths, procs := removeAllLocked()
		what := ""
		if paths+procs > 0 {
			what = fmt.Sprintf(": removed %d temporary file(s) or folder(s), stopped %d worker process(es)", paths, procs)
		}
		fmt.Fprintf(in.out, "%s: interrupted by %s%s\n", in.name, signalName(s), what)
		os.Exit(ExitCode(s))
	})
	select {} // another goroutine is exiting
}

// ExitCode is the shell's status for a process ended by s: 128 + its
// number (SIGINT 130, SIGTERM 143).
func ExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// signalName names s as the shell does (SIGINT, SIGTERM).
func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}
