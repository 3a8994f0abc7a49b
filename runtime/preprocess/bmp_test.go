package preprocess

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/vimconvert/vimconvert/internal/testutil"
)

// TestBMPZeroOffset: a BMP whose file header gives 0 as the pixel data offset is read
// from where PIL reads it (offset or fp.tell(): right after the headers, masks and
// palette), so it decodes to the same pixels as the file with the offset written out.
func TestBMPZeroOffset(t *testing.T) {
	for _, name := range []string{"bmp_24_topdown.bmp", "bmp_4bit.bmp", "bmp_16_565_bitfields.bmp", "bmp_32_v5_alpha.bmp", "bmp_os2_8bit.bmp", "bmp_rle8.bmp"} {
		data := testutil.ReadFile(t, "testdata/images/"+name)
		want, err := Decoder{}.DecodeBytes(data, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		zero := bytes.Clone(data)
		binary.LittleEndian.PutUint32(zero[10:], 0)
		got, err := Decoder{}.DecodeBytes(zero, name+" with offset 0")
		if err != nil {
			t.Errorf("%s with offset 0: %v", name, err)
			continue
		}
		if got.Width != want.Width || got.Height != want.Height || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s with offset 0: pixels differ from the file's own offset %d", name, binary.LittleEndian.Uint32(data[10:]))
		}
	}
}
