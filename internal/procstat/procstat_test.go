package procstat_test

import (
	"testing"

	"github.com/postergenre/postergenre/internal/procstat"
)

// TestPeakRSSGrows: touching 64 MiB raises the peak by about that much.
func TestPeakRSSGrows(t *testing.T) {
	before, err := procstat.PeakRSS()
	if err != nil {
		t.Skipf("no peak RSS on this system: %v", err)
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after, err := procstat.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 48<<20 {
		t.Errorf("peak RSS grew by %d MiB after touching 64 MiB", (after-before)>>20)
	}
	_ = buf[len(buf)-1]
}
