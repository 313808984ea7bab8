package secrets_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets/smtest"
)

const canary = "canary-7f3d9a1c-never-print-me"

func open(t *testing.T, s secrets.Settings) *secrets.Source {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if s.Region == "" {
		s.Region = "eu-west-1"
	}
	src, err := secrets.New(t.Context(), s, func(o *sm.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
		o.RetryMaxAttempts = 1
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestJSONObjectSecret(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/production", `{"DATABASE_URL":"postgres://app:`+canary+`@db/api","WORKERS":4,"DEBUG":false,"EMPTY":""}`)
	vs, err := open(t, secrets.Settings{SecretID: "api/production", Endpoint: fake.URL}).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vs {
		got[v.Name] = v.Value
		if v.Source != "aws-secrets:api/production" {
			t.Errorf("source %q", v.Source)
		}
	}
	want := map[string]string{"DATABASE_URL": "postgres://app:" + canary + "@db/api", "WORKERS": "4", "DEBUG": "false", "EMPTY": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if vs[0].Name != "DATABASE_URL" || len(vs) != 4 {
		t.Errorf("variables not sorted or extra: %v", len(vs))
	}
}

func TestPlainStringSecret(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/token", canary)
	vs, err := open(t, secrets.Settings{SecretID: "api/token", Endpoint: fake.URL, Name: "API_TOKEN"}).Load(t.Context())
	if err != nil || len(vs) != 1 || vs[0].Name != "API_TOKEN" || vs[0].Value != canary {
		t.Fatalf("Load = %v, %v", vs, err)
	}
	_, err = open(t, secrets.Settings{SecretID: "api/token", Endpoint: fake.URL}).Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "set `name`") || strings.Contains(err.Error(), canary) {
		t.Fatalf("a plain string without name: %v", err)
	}
}

func TestErrorsSayWhatToDo(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/denied", canary)
	fake.Deny("api/denied")
	cases := []struct {
		s    secrets.Settings
		want string
	}{
		{secrets.Settings{SecretID: "api/missing", Endpoint: fake.URL}, "does not exist in region eu-west-1"},
		{secrets.Settings{SecretID: "api/denied", Endpoint: fake.URL}, "secretsmanager:GetSecretValue"},
	}
	for _, c := range cases {
		_, err := open(t, c.s).Load(t.Context())
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), canary) {
			t.Errorf("%s: %v; want %q", c.s.SecretID, err, c.want)
		}
	}
	_, err := open(t, secrets.Settings{SecretID: "x", Endpoint: "http://127.0.0.1:1"}).Load(t.Context())
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("closed port: %v; want *provider.UnreachableError", err)
	}
	if _, err := secrets.New(t.Context(), secrets.Settings{}); err == nil || !strings.Contains(err.Error(), "secret_id") {
		t.Errorf("no secret_id: %v", err)
	}
}

// A Secrets Manager that takes the request and never answers (a black-holed
// connection) fails within the call's deadline as unreachable (exit 4),
// instead of hanging the command.
func TestBlackHoledSecretsManagerFailsWithinTheDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // read nothing, answer nothing
		}
	}()
	src := open(t, secrets.Settings{SecretID: "shop/production", Endpoint: "http://" + ln.Addr().String()})
	src.Timeout = 300 * time.Millisecond
	done := make(chan error, 1)
	go func() { _, err := src.Load(t.Context()); done <- err }()
	select {
	case err := <-done:
		var ue *provider.UnreachableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within 300ms") {
			t.Fatalf("err %v, want an unreachable Secrets Manager", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load still waits on a black-holed connection")
	}
}
