package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Labels on every object deployctl creates for its own bookkeeping.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelEnv       = "deployctl.dev/environment"
	LabelPart      = "deployctl.dev/part"
)

func labels(part string) map[string]string {
	return map[string]string{LabelManagedBy: "deployctl", LabelPart: part}
}

// StateStore keeps each key in its own ConfigMap, so that the
// compare-and-swap of one key (the ConfigMap's resourceVersion) never
// conflicts with a write to another.
type StateStore struct {
	Clients *Clients
	Env     string
}

var _ provider.StateStore = (*StateStore)(nil)

const stateKey = "data"

var unsafeName = regexp.MustCompile(`[^a-z0-9-]+`)

// objectName turns parts into a valid object name, with a hash suffix
// whenever that had to change them, so two keys never share a ConfigMap.
func objectName(parts ...string) string {
	raw := strings.Join(parts, "-")
	name := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(raw), "-"), "-")
	if name != raw || len(name) > 200 {
		sum := sha256.Sum256([]byte(raw))
		name = strings.TrimRight(name[:min(len(name), 200)], "-") + "-" + hex.EncodeToString(sum[:4])
	}
	return name
}

func (s *StateStore) name(key string) string { return objectName("deployctl-state", s.Env, key) }

func (s *StateStore) obj(key string) object {
	return object{Kind: "ConfigMap", Namespace: s.Clients.Namespace, Name: s.name(key)}
}

// Load returns the key's data and the ConfigMap's resourceVersion.
func (s *StateStore) Load(ctx context.Context, key string) ([]byte, string, error) {
	cm, err := s.Clients.Kube.CoreV1().ConfigMaps(s.Clients.Namespace).Get(ctx, s.name(key), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, "", provider.ErrNotFound
	}
	if err != nil {
		return nil, "", s.Clients.explain(err, "read", s.obj(key))
	}
	if b, ok := cm.BinaryData[stateKey]; ok {
		return b, cm.ResourceVersion, nil
	}
	return []byte(cm.Data[stateKey]), cm.ResourceVersion, nil
}

// Save writes data if the key is still at version ("" for a new key).
func (s *StateStore) Save(ctx context.Context, key string, data []byte, version string) error {
	cms := s.Clients.Kube.CoreV1().ConfigMaps(s.Clients.Namespace)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: s.name(key), ResourceVersion: version, Labels: labels("state"),
		Annotations: map[string]string{"deployctl.dev/key": key},
	}}
	cm.Labels[LabelEnv] = objectName(s.Env)
	// Text stays readable with kubectl; anything else goes in binaryData.
	if utf8.Valid(data) {
		cm.Data = map[string]string{stateKey: string(data)}
	} else {
		cm.BinaryData = map[string][]byte{stateKey: data}
	}
	var err error
	if version == "" {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "deployctl"})
	} else {
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "deployctl"})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) || (version != "" && apierrors.IsNotFound(err)) {
		return provider.ErrConflict
	}
	return s.Clients.explain(err, "write", s.obj(key))
}
