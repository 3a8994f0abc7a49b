package bench

import (
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vimconvert/vimconvert/runtime"
)

// MachineInfo describes this machine: CPU model, cores, the version of the
// ONNX Runtime library loaded (runtime.LoadVersion: the one the workers
// load, not the bindings' runtime.ORTVersion; "not loaded: ..." when it
// cannot be), the Go version and the load average now.
func MachineInfo() Machine {
	m := Machine{Cores: goruntime.NumCPU(), GoVersion: goruntime.Version()}
	if v, err := runtime.LoadVersion(); err != nil {
		m.ORTVersion = "not loaded: " + err.Error()
	} else {
		m.ORTVersion = v
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// PrintTable writes the records as an aligned text table, one row per
// record, headed by the machine line.
func PrintTable(w io.Writer, rs []Record, mi Machine) {
	fmt.Fprintf(w, "machine: %s, %d cores, ONNX Runtime %s, %s, load %s (%s)\n",
		mi.CPU, mi.Cores, mi.ORTVersion, mi.GoVersion, mi.LoadAvg, time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "img\ttokens\tbatch\tthreads\tplugin ms\tfloor ms\tplugin/floor\tscan op ms\tG upd/s/core\tLA call ms\tLA call/scan dir\tLA model ms\tLA/plugin\tstd model ms\tstd/plugin\tstd/LA\tstd RSS MB\treference ms\tref/plugin\tf16 ms\tf16/plugin\tbf16 ms\tbf16/plugin\tµs/token\tpeak RSS MB\t")
	f := func(v OptFloat, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, float64(v))
	}
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.ImgSize, r.Tokens, r.Batch, r.Threads,
			f(r.PluginMS, "%.2f"), f(r.NoScanFloorMS, "%.2f"), f(r.PluginOverFloor, "%.2fx"),
			f(r.ScanOnlyMS, "%.3f"), f(r.ScanGUpdatesPerSecPerCore, "%.2f"),
			f(r.LinearAttentionCallMS, "%.3f"), f(r.LinearAttentionCallOverScanDir, "%.1fx"),
			f(r.LinearAttentionMS, "%.1f"), f(r.LinearAttentionOverPlugin, "%.1fx"),
			f(r.StandardMS, "%.1f"), f(r.StandardOverPlugin, "%.1fx"), f(r.StandardOverLinearAttention, "%.2fx"), f(r.StandardPeakRSSMB, "%.0f"),
			f(r.ReferenceMS, "%.1f"), f(r.ReferenceOverPlugin, "%.1fx"),
			f(r.Float16MS, "%.1f"), f(r.Float16OverPlugin, "%.2fx"), f(r.BFloat16MS, "%.1f"), f(r.BFloat16OverPlugin, "%.2fx"),
			f(r.PluginUSPerToken, "%.2f"), f(r.PeakRSSMB, "%.0f"))
	}
	tw.Flush()
}
