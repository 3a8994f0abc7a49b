package preprocess

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"strings"
)

// imagenet1k is torchvision's ImageNet-1k class list (torchvision.models._meta
// _IMAGENET_CATEGORIES, Debian python3-torchvision 0.14), one name per line in class
// index order; scripts/make-preprocess-fixtures.py writes it.
//
//go:embed imagenet1k.txt
var imagenet1k string

// ImageNetLabelSet names the label set ImageNetLabels returns (for model metadata).
const ImageNetLabelSet = "imagenet-1k"

// ImageNetLabels returns the 1000 ImageNet-1k class names in class index order, as
// torchvision names them (a fresh slice each call).
func ImageNetLabels() []string {
	labels, err := parseLabels([]byte(imagenet1k), "imagenet1k.txt")
	if err != nil || len(labels) != 1000 {
		panic(fmt.Sprintf("preprocess: embedded imagenet1k.txt is broken (%d names, %v)", len(labels), err))
	}
	return labels
}

// maxLabelsBytes bounds a labels file: 1000 classes take 11 KB; 21k-class lists ~0.5 MB.
const maxLabelsBytes = 16 << 20

// ReadLabels reads class names from a text file, one per line in class index order
// (UTF-8; a trailing "\r" is dropped, so CRLF files work). Blank lines, a file with no
// names and files over 16 MiB are errors naming the file and line.
func ReadLabels(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: labels: %w", err)
	}
	if st.Size() > maxLabelsBytes {
		return nil, fmt.Errorf("preprocess: labels %s: %d bytes, more than %d", path, st.Size(), maxLabelsBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: labels: %w", err)
	}
	return parseLabels(data, path)
}

func parseLabels(data []byte, name string) ([]string, error) {
	var labels []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxLabelsBytes)
	for line := 1; sc.Scan(); line++ {
		label := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(label) == "" {
			return nil, fmt.Errorf("preprocess: labels %s: line %d is blank", name, line)
		}
		labels = append(labels, label)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("preprocess: labels %s: %w", name, err)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("preprocess: labels %s: no class names", name)
	}
	return labels, nil
}

// CheckLabels reports whether labels name exactly the classes of a head with
// numClasses outputs; the error says both counts.
func CheckLabels(labels []string, numClasses int) error {
	if len(labels) != numClasses {
		return fmt.Errorf("preprocess: %d labels for a head with %d classes", len(labels), numClasses)
	}
	return nil
}
