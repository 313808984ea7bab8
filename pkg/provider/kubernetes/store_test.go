package kubernetes

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestStateStoreCompareAndSwap(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	s := &StateStore{Clients: clientsAs(t, ns, srv.Config), Env: "staging"}
	if _, _, err := s.Load(ctx, "rollout"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("load missing: %v", err)
	}
	if err := s.Save(ctx, "rollout", []byte(`{"active":"blue"}`), ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "rollout", []byte(`{}`), ""); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	data, v1, err := s.Load(ctx, "rollout")
	if err != nil || string(data) != `{"active":"blue"}` {
		t.Fatalf("load = %q, %v", data, err)
	}
	if err := s.Save(ctx, "rollout", []byte("\xff\x00binary"), v1); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, "rollout", []byte("stale"), v1); !errors.Is(err, provider.ErrConflict) {
		t.Fatalf("stale version: %v", err)
	}
	if data, _, _ := s.Load(ctx, "rollout"); string(data) != "\xff\x00binary" {
		t.Fatalf("binary round trip = %q", data)
	}
	// keys are independent: a write to one never conflicts with another.
	if err := s.Save(ctx, "Maintenance/State", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryAppendListAndCap(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	h := &HistoryLog{Clients: clientsAs(t, ns, srv.Config), Env: "staging", MaxBytes: 2000}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		cmd := "rollout green"
		if i%2 == 1 {
			cmd = "maintenance on"
		}
		e := provider.Entry{Time: t0.Add(time.Duration(i) * time.Minute), Actor: "alice", Command: cmd, Result: "ok", Detail: fmt.Sprint(i)}
		if err := h.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := h.List(ctx, provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 30 || len(all) == 0 || all[len(all)-1].Detail != "29" {
		t.Fatalf("capped list has %d entries, last %+v", len(all), all[len(all)-1])
	}
	cm, _ := srv.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "deployctl-history-staging", metav1.GetOptions{})
	if _, n := sortedKeys(cm.Data); n > 2000 {
		t.Fatalf("history is %d bytes, cap 2000", n)
	}
	some, _ := h.List(ctx, provider.Filter{Command: "rollout", Limit: 2, Since: t0.Add(20 * time.Minute)})
	if len(some) != 2 || some[0].Detail != "26" || some[1].Detail != "28" {
		t.Fatalf("filtered = %+v", some)
	}
}

func TestVariablesFromConfigMapAndSecret(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	_, err := srv.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "api-config"},
		Data:       map[string]string{"NODE_ENV": "production", "PORT": "3000"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "api-secrets"},
		Data:       map[string][]byte{"JWT_SECRET": []byte("canary-s3cr3t")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := &Variables{Clients: clientsAs(t, ns, srv.Config), Settings: VariableSettings{ConfigMap: "api-config", Secret: "api-secrets"}}
	vars, err := v.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, x := range vars {
		got = append(got, x.Name+"="+x.Value+"@"+x.Source)
	}
	want := "NODE_ENV=production@kubernetes:configmap/api-config PORT=3000@kubernetes:configmap/api-config JWT_SECRET=canary-s3cr3t@kubernetes:secret/api-secrets"
	if strings.Join(got, " ") != want {
		t.Fatalf("vars = %v", got)
	}
	v.Settings.Secret = "absent"
	if _, err := v.Load(ctx); err == nil || !strings.Contains(err.Error(), "Secret "+ns+"/absent not found") {
		t.Fatalf("missing secret: %v", err)
	}
	v.Settings.Optional = true
	if _, err := v.Load(ctx); err != nil {
		t.Fatalf("optional missing secret: %v", err)
	}
}
