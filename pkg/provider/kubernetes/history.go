package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

// HistoryLog is the environment's audit trail as JSON lines in one
// ConfigMap. A ConfigMap holds at most 1 MiB, so the oldest entries go once
// the trail passes MaxBytes.
type HistoryLog struct {
	Clients  *Clients
	Env      string
	MaxBytes int // 0: DefaultHistoryBytes
}

var _ provider.HistoryLog = (*HistoryLog)(nil)

// DefaultHistoryBytes leaves room below the 1 MiB object limit.
const DefaultHistoryBytes = 512 << 10

const historyKey = "entries.jsonl"

func (h *HistoryLog) name() string { return objectName("deployctl-history", h.Env) }

func (h *HistoryLog) obj() object {
	return object{Kind: "ConfigMap", Namespace: h.Clients.Namespace, Name: h.name()}
}

// Append adds e, retrying when another operator appended meanwhile.
func (h *HistoryLog) Append(ctx context.Context, e provider.Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	cms := h.Clients.Kube.CoreV1().ConfigMaps(h.Clients.Namespace)
	err = retry.OnError(conflictBackoff, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
	}, func() error {
		cm, err := cms.Get(ctx, h.name(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: h.name(), Labels: labels("history")}}
			cm.Data = map[string]string{historyKey: h.capped(string(line) + "\n")}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "deployctl"})
			return err
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[historyKey] = h.capped(cm.Data[historyKey] + string(line) + "\n")
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	return h.Clients.explain(err, "append to", h.obj())
}

// capped drops the oldest lines until the trail fits, keeping the newest.
func (h *HistoryLog) capped(s string) string {
	max := h.MaxBytes
	if max <= 0 {
		max = DefaultHistoryBytes
	}
	for len(s) > max {
		i := strings.IndexByte(s, '\n')
		if i < 0 || i == len(s)-1 {
			break
		}
		s = s[i+1:]
	}
	return s
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
	var out []provider.Entry
	for _, line := range bytes.Split([]byte(cm.Data[historyKey]), []byte("\n")) {
		var e provider.Entry
		if len(line) == 0 || json.Unmarshal(line, &e) != nil {
			continue
		}
		if !f.Since.IsZero() && e.Time.Before(f.Since) {
			continue
		}
		if f.Command != "" && !strings.HasPrefix(e.Command, f.Command) {
			continue
		}
		out = append(out, e)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}
