package cleanup

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal asks Linux to SIGKILL cmd's process when the thread
// that started it exits; Go keeps its threads for the life of the process
// (Start is not called from a goroutine that locks its thread), so in
// practice the child dies with this process, also of a SIGKILL.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
