package kubernetes

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

const (
	oldCanary = "old-CANARY-3c9d71aa"
	newCanary = "new-CANARY-e04b5f12"
)

func secretSource(t *testing.T, ns string, c *Clients) *Variables {
	t.Helper()
	_, err := srv.Kube.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "api-secrets", Annotations: map[string]string{"team": "payments"}},
		Data:       map[string][]byte{"JWT_SECRET": []byte(oldCanary), "OTHER": []byte("kept")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &Variables{Clients: c, Settings: VariableSettings{Secret: "api-secrets", ConfigMap: "api-config", Optional: true}}
}

func TestSecretWriteRecordsRotationAndKeepsOtherKeys(t *testing.T) {
	e := setup(t)
	v := secretSource(t, e.ns, e.c)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := provider.VariableWrite{Set: map[string]string{"JWT_SECRET": newCanary, "JWT_SECRET_PREVIOUS": oldCanary}, Rotated: []string{"JWT_SECRET"}, At: at}
	if err := v.WriteVariables(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	sec, err := srv.Kube.CoreV1().Secrets(e.ns).Get(t.Context(), "api-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["JWT_SECRET"]) != newCanary || string(sec.Data["JWT_SECRET_PREVIOUS"]) != oldCanary || string(sec.Data["OTHER"]) != "kept" {
		t.Errorf("data: %v", sec.Data)
	}
	if sec.Annotations["team"] != "payments" || sec.Annotations[RotatedAnnotationPrefix+"JWT_SECRET"] != "2026-11-25T12:00:00Z" {
		t.Errorf("annotations: %v", sec.Annotations)
	}
	times, err := v.RotatedAt(t.Context())
	if err != nil || !times["JWT_SECRET"].Equal(at) || len(times) != 1 {
		t.Errorf("rotated at: %v %v", times, err)
	}
	vs, err := v.Load(t.Context())
	if err != nil || len(vs) != 3 {
		t.Errorf("load after write: %d %v", len(vs), err)
	}
}

func TestSecretWriteRefusedLeavesOldValueAndSaysSo(t *testing.T) {
	e := setup(t)
	secretSource(t, e.ns, e.c)
	// A user who may read Secrets but not update them.
	ctx := t.Context()
	_, err := srv.Kube.RbacV1().Roles(e.ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-secrets"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Kube.RbacV1().RoleBindings(e.ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-secrets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-secrets"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "reader", APIGroup: "rbac.authorization.k8s.io"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reader := &Variables{Clients: clientsAs(t, e.ns, srv.UserConfig(t, "reader")), Settings: VariableSettings{Secret: "api-secrets"}}
	err = reader.WriteVariables(ctx, provider.VariableWrite{Set: map[string]string{"JWT_SECRET": newCanary}})
	if err == nil || !strings.Contains(err.Error(), "refused to update Secret") || !strings.Contains(err.Error(), "keeps the old values") || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("error: %v", err)
	}
	sec, _ := srv.Kube.CoreV1().Secrets(e.ns).Get(ctx, "api-secrets", metav1.GetOptions{})
	if string(sec.Data["JWT_SECRET"]) != oldCanary {
		t.Errorf("the Secret changed")
	}
}

func TestConfigMapOnlySourceIsNotWritable(t *testing.T) {
	v := &Variables{Clients: &Clients{Namespace: "x"}, Settings: VariableSettings{ConfigMap: "api-config"}}
	if err := v.Writable([]string{"A"}); !errors.Is(err, provider.ErrUnsupported) || !strings.Contains(err.Error(), "secret: NAME") {
		t.Errorf("configmap only: %v", err)
	}
}

func TestRestartSlotsSetsRestartedAt(t *testing.T) {
	e := setup(t)
	r := &Router{Clients: e.c, Settings: e.s}
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	done, err := r.RestartSlots(t.Context(), at)
	if err != nil || strings.Join(done, ",") != "deployment/api-blue,deployment/api-green" {
		t.Fatalf("restart: %v %v", done, err)
	}
	for _, n := range []string{"api-blue", "api-green"} {
		d, err := srv.Kube.AppsV1().Deployments(e.ns).Get(t.Context(), n, metav1.GetOptions{})
		if err != nil || d.Spec.Template.Annotations[RestartedAtAnnotation] != "2026-11-25T12:00:00Z" || d.Generation < 2 {
			t.Errorf("%s: %v (generation %d) %v", n, d.Spec.Template.Annotations, d.Generation, err)
		}
	}
}
