package backup

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestParallelFramesRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, 3*ChunkSize + 5} {
		data := make([]byte, size)
		r := rand.NewChaCha8([32]byte{9})
		for i := range data {
			data[i] = "abcdefgh0123"[r.Uint64()%12] // compressible, not trivially
		}
		var out bytes.Buffer
		p, err := newPzstd(&out, 2)
		if err != nil {
			t.Fatal(err)
		}
		for rest := data; len(rest) > 0; { // odd write sizes
			k := min(len(rest), 70001)
			if _, err := p.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		dec, _ := zstd.NewReader(&out)
		got, err := io.ReadAll(dec)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes: round trip gave %d bytes, %v", size, len(got), err)
		}
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestParallelFramesReportWriteErrors(t *testing.T) {
	p, _ := newPzstd(brokenWriter{}, 2)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		_, err = p.Write(make([]byte, ChunkSize))
	}
	if cerr := p.Close(); cerr == nil || (err != nil && err.Error() != "disk full") {
		t.Fatalf("write error lost: write %v, close %v", err, cerr)
	}
}
