package startup

import (
	"runtime/debug"
	"testing"
)

func TestDoneRestoresTheCollector(t *testing.T) {
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Fatalf("collector not paused during init: GOGC %d", got)
	}
	Done()
	if got := debug.SetGCPercent(gcPercent); got != gcPercent || got < 0 {
		t.Fatalf("Done left GOGC at %d, want %d", got, gcPercent)
	}
}
