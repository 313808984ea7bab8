package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/deployctl/deployctl/pkg/provider"
)

// HistoryLog is the environment's audit trail in one ConfigMap, one key per
// entry named after its time. An append is a single merge patch that adds a
// key: no read, no version to race on, so operators appending at once never
// conflict. A ConfigMap holds at most 1 MiB, so the oldest entries go once
// the trail passes MaxBytes.
type HistoryLog struct {
	Clients  *Clients
	Env      string
	MaxBytes int // 0: DefaultHistoryBytes
}

var _ provider.HistoryLog = (*HistoryLog)(nil)

// DefaultHistoryBytes leaves room below the 1 MiB object limit.
const DefaultHistoryBytes = 512 << 10

func (h *HistoryLog) name() string { return objectName("deployctl-history", h.Env) }

func (h *HistoryLog) obj() object {
	return object{Kind: "ConfigMap", Namespace: h.Clients.Namespace, Name: h.name()}
}

// entryKey sorts by time; the random suffix keeps simultaneous entries apart.
func entryKey(e provider.Entry) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("e-%019d-%s", e.Time.UnixNano(), hex.EncodeToString(b[:]))
}

// Append adds e and trims the oldest entries past the cap.
func (h *HistoryLog) Append(ctx context.Context, e provider.Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"data": map[string]string{entryKey(e): string(line)}})
	cms := h.Clients.Kube.CoreV1().ConfigMaps(h.Clients.Namespace)
	for attempt := 0; ; attempt++ {
		cm, err := cms.Patch(ctx, h.name(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "deployctl"})
		if apierrors.IsNotFound(err) && attempt < 3 {
			_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: h.name(), Labels: labels("history")}}, metav1.CreateOptions{FieldManager: "deployctl"})
			if err == nil || apierrors.IsAlreadyExists(err) {
				continue
			}
		}
		if err != nil {
			return h.Clients.explain(err, "append to", h.obj())
		}
		return h.trim(ctx, cm)
	}
}

// trim deletes the oldest keys until the trail fits in MaxBytes.
func (h *HistoryLog) trim(ctx context.Context, cm *corev1.ConfigMap) error {
	max := h.MaxBytes
	if max <= 0 {
		max = DefaultHistoryBytes
	}
	keys, size := sortedKeys(cm.Data)
	drop := map[string]any{}
	for _, k := range keys {
		if size <= max {
			break
		}
		size -= len(k) + len(cm.Data[k])
		drop[k] = nil // null deletes the key in a merge patch
	}
	if len(drop) == 0 {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"data": drop})
	_, err := h.Clients.Kube.CoreV1().ConfigMaps(h.Clients.Namespace).Patch(ctx, h.name(), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "deployctl"})
	return h.Clients.explain(err, "trim", h.obj())
}

func sortedKeys(data map[string]string) ([]string, int) {
	keys := make([]string, 0, len(data))
	size := 0
	for k, v := range data {
		keys = append(keys, k)
		size += len(k) + len(v)
	}
	sort.Strings(keys)
	return keys, size
}

// List returns the entries that match f, oldest first.
func (h *HistoryLog) List(ctx context.Context, f provider.Filter) ([]provider.Entry, error) {
	cm, err := h.Clients.Kube.CoreV1().ConfigMaps(h.Clients.Namespace).Get(ctx, h.name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, h.Clients.explain(err, "read", h.obj())
	}
	keys, _ := sortedKeys(cm.Data)
	var out []provider.Entry
	for _, k := range keys {
		var e provider.Entry
		if !strings.HasPrefix(k, "e-") || json.Unmarshal([]byte(cm.Data[k]), &e) != nil {
			continue
		}
		if matches(e, f) {
			out = append(out, e)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// matches applies a filter; a command prefix matches whole words.
func matches(e provider.Entry, f provider.Filter) bool {
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	return f.Command == "" || e.Command == f.Command || strings.HasPrefix(e.Command, f.Command+" ")
}
