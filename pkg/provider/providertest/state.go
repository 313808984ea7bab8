package providertest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

// TestStateStore runs the StateStore suite; newStore returns a store on a
// fresh, empty environment.
func TestStateStore(t *testing.T, newStore func(t *testing.T) provider.StateStore) {
	t.Run("MissingKey", func(t *testing.T) {
		if _, _, err := newStore(t).Load(t.Context(), "rollout"); !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("Load of a missing key: %v, want ErrNotFound", err)
		}
	})
	t.Run("CompareAndSwap", func(t *testing.T) { stateCAS(t, newStore(t)) })
	t.Run("KeysIndependent", func(t *testing.T) { stateKeys(t, newStore(t)) })
	t.Run("LargeDocument", func(t *testing.T) {
		s := newStore(t)
		doc := []byte(`{"blob":"` + string(bytes.Repeat([]byte("x"), 200_000)) + `"}`)
		save(t, s, "big", doc, "")
		if got, _ := load(t, s, "big"); !bytes.Equal(got, doc) {
			t.Fatalf("large document changed on the way: %d bytes back, %d written", len(got), len(doc))
		}
	})
	t.Run("ConcurrentIncrements", func(t *testing.T) { stateConcurrent(t, newStore(t)) })
}

func save(t *testing.T, s provider.StateStore, key string, data []byte, version string) {
	t.Helper()
	if err := s.Save(t.Context(), key, data, version); err != nil {
		t.Fatalf("Save(%s, version %q): %v", key, version, err)
	}
}

func load(t *testing.T, s provider.StateStore, key string) ([]byte, string) {
	t.Helper()
	data, v, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key, err)
	}
	return data, v
}

func stateCAS(t *testing.T, s provider.StateStore) {
	save(t, s, "rollout", []byte(`{"n":1}`), "")
	data, v1 := load(t, s, "rollout")
	if string(data) != `{"n":1}` || v1 == "" {
		t.Fatalf("Load = %q, version %q", data, v1)
	}
	if err := s.Save(t.Context(), "rollout", []byte(`{"n":9}`), ""); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("Save as new over an existing key: %v, want ErrConflict", err)
	}
	save(t, s, "rollout", []byte(`{"n":2}`), v1)
	_, v2 := load(t, s, "rollout")
	if v2 == v1 {
		t.Fatalf("version did not change after Save: %q", v2)
	}
	if err := s.Save(t.Context(), "rollout", []byte(`{"n":3}`), v1); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("Save with a stale version: %v, want ErrConflict", err)
	}
	if data, _ := load(t, s, "rollout"); string(data) != `{"n":2}` {
		t.Fatalf("a refused Save changed the document: %q", data)
	}
}

func stateKeys(t *testing.T, s provider.StateStore) {
	save(t, s, "rollout", []byte(`{"a":1}`), "")
	save(t, s, "maintenance", []byte(`{"b":2}`), "")
	a, _ := load(t, s, "rollout")
	b, _ := load(t, s, "maintenance")
	if string(a) != `{"a":1}` || string(b) != `{"b":2}` {
		t.Fatalf("keys mixed up: rollout=%q maintenance=%q", a, b)
	}
}

// stateConcurrent has writers increment one counter with load-modify-save
// and retries on conflict: no increment may be lost.
func stateConcurrent(t *testing.T, s provider.StateStore) {
	save(t, s, "counter", []byte("0"), "")
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := increment(t, s); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if data, _ := load(t, s, "counter"); string(data) != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d: an update was lost", data, writers*each)
	}
}

func increment(t *testing.T, s provider.StateStore) error {
	for range 1000 {
		data, v, err := s.Load(t.Context(), "counter")
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(data))
		err = s.Save(t.Context(), "counter", []byte(strconv.Itoa(n+1)), v)
		if err == nil {
			return nil
		}
		if !errors.Is(err, provider.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("increment: too many conflicts")
}
