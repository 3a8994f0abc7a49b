// Command vimconvert converts official Vision Mamba (Vim) PyTorch checkpoints
// to ONNX, runs them in ONNX Runtime with the vimconvert scan plugin, and
// checks them against a pure-Go reference.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/vimconvert/vimconvert/internal/ortenv"
)

// command is one subcommand. Each lives in its own file and registers
// itself from init().
type command struct {
	name    string
	summary string
	// run executes the command with its own arguments (after the name).
	// It returns errUsage (possibly wrapped) for bad flags.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error whose message was already printed with usage.
var errUsage = errors.New("usage error")

func usage(w io.Writer) {
	fmt.Fprintf(w, `vimconvert: Vision Mamba (Vim) checkpoints to ONNX, with a fused selective-scan plugin

Usage:
  vimconvert CKPT.pth -o OUT.onnx [flags]   convert (same as: vimconvert convert ...)
  vimconvert COMMAND [flags] [args]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'vimconvert COMMAND -h' for a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// The checkout's ONNX Runtime and plugin, unless the environment
	// names others (runtime itself knows no checkout).
	ortenv.UseCheckout()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	name := args[0]
	c, ok := commands[name]
	rest := args[1:]
	if !ok {
		// "vimconvert CKPT -o OUT" is the convert command.
		if cc, has := commands["convert"]; has && !strings.HasPrefix(name, "-") && looksLikeFile(name) {
			c, rest = cc, args
		} else {
			fmt.Fprintf(stderr, "vimconvert: unknown command %q\n\n", name)
			usage(stderr)
			return 2
		}
	}
	if err := c.run(rest, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "vimconvert %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func looksLikeFile(s string) bool {
	if strings.ContainsAny(s, "/.") {
		return true
	}
	_, err := os.Stat(s)
	return err == nil
}
