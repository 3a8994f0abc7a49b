//go:build !linux

package cleanup

import "os/exec"

// setParentDeathSignal does nothing outside Linux: a worker outlives a
// SIGKILLed parent until its own run ends.
func setParentDeathSignal(*exec.Cmd) {}
