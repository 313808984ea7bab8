package secrets_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets/smtest"
)

const (
	oldCanary = "old-CANARY-5b1e0c7d"
	newCanary = "new-CANARY-9a4f2e66"
	token     = "rotate-0123456789abcdef0123456789ab"
)

// openRetrying is open with the SDK's retries on, as in production.
func openRetrying(t *testing.T, s secrets.Settings) *secrets.Source {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s.Region = "eu-west-1"
	src, err := secrets.New(t.Context(), s, func(o *sm.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
		o.RetryMaxAttempts = 3
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func rotation() provider.VariableWrite {
	return provider.VariableWrite{Set: map[string]string{"JWT_SECRET": newCanary, "JWT_SECRET_PREVIOUS": oldCanary}, Token: token}
}

func TestPutSecretValueMovesStagesAndKeepsOtherKeys(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/production", `{"JWT_SECRET":"`+oldCanary+`","WORKERS":4}`)
	src := openRetrying(t, secrets.Settings{SecretID: "api/production", Endpoint: fake.URL})
	if err := src.WriteVariables(t.Context(), rotation()); err != nil {
		t.Fatal(err)
	}
	cur, _ := fake.Staged("api/production", smtest.Current)
	prev, _ := fake.Staged("api/production", smtest.Previous)
	m := decode(t, cur)
	if m["JWT_SECRET"] != newCanary || m["JWT_SECRET_PREVIOUS"] != oldCanary || m["WORKERS"] != 4.0 {
		t.Errorf("AWSCURRENT: %v", m)
	}
	if decode(t, prev)["JWT_SECRET"] != oldCanary {
		t.Errorf("AWSPREVIOUS must be the old version")
	}
	vs, err := src.Load(t.Context())
	if err != nil || len(vs) != 3 {
		t.Fatalf("load after write: %v %v", len(vs), err)
	}
}

// A reply lost on the way back: the SDK retries with the same
// ClientRequestToken, and the fake, as the real API, creates one version.
func TestLostReplyRetriedWithSameTokenCreatesOneVersion(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/production", `{"JWT_SECRET":"`+oldCanary+`"}`)
	fake.DropReplies(1)
	src := openRetrying(t, secrets.Settings{SecretID: "api/production", Endpoint: fake.URL})
	if err := src.WriteVariables(t.Context(), rotation()); err != nil {
		t.Fatal(err)
	}
	if fake.Puts != 2 {
		t.Errorf("PutSecretValue calls: %d, want 2 (one lost reply, one retry)", fake.Puts)
	}
	if n := len(fake.Versions("api/production")); n != 2 {
		t.Errorf("versions: %d, want 2 (the seed and one rotation)", n)
	}
	// The whole write retried by a caller with the same token: still one.
	if err := src.WriteVariables(t.Context(), rotation()); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Versions("api/production")); n != 2 {
		t.Errorf("versions after the same write again: %d, want 2", n)
	}
	// Every reply lost (retries exhausted): the version is found by its token.
	fake.DropReplies(10)
	w := rotation()
	w.Token = "rotate-ffffffffffffffffffffffffffffff"
	w.Set = map[string]string{"JWT_SECRET": "third-value-xyz", "JWT_SECRET_PREVIOUS": newCanary}
	if err := src.WriteVariables(t.Context(), w); err != nil {
		t.Errorf("a write that landed but whose replies were lost: %v", err)
	}
	if n := len(fake.Versions("api/production")); n != 3 {
		t.Errorf("versions: %d, want 3", n)
	}
}

func TestFailedPutKeepsOldValueAndSaysSo(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/production", `{"JWT_SECRET":"`+oldCanary+`"}`)
	fake.DenyWrite("api/production")
	src := openRetrying(t, secrets.Settings{SecretID: "api/production", Endpoint: fake.URL})
	err := src.WriteVariables(t.Context(), rotation())
	if err == nil || !strings.Contains(err.Error(), "secretsmanager:PutSecretValue") || !strings.Contains(err.Error(), "keeps the old values") {
		t.Fatalf("error: %v", err)
	}
	if strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error leaks a value: %v", err)
	}
	if cur, _ := fake.Staged("api/production", smtest.Current); decode(t, cur)["JWT_SECRET"] != oldCanary || len(fake.Versions("api/production")) != 1 {
		t.Errorf("the secret changed")
	}
}

func TestTokenRulesOfTheRealAPI(t *testing.T) {
	fake := smtest.Start(t)
	fake.Put("api/production", `{"JWT_SECRET":"`+oldCanary+`"}`)
	src := openRetrying(t, secrets.Settings{SecretID: "api/production", Endpoint: fake.URL})
	w := rotation()
	w.Token = "short"
	if err := src.WriteVariables(t.Context(), w); err == nil || !strings.Contains(err.Error(), "clientRequestToken") {
		t.Errorf("a short token: %v", err)
	}
	if err := src.WriteVariables(t.Context(), rotation()); err != nil {
		t.Fatal(err)
	}
	w = rotation()
	w.Set = map[string]string{"JWT_SECRET": "other"}
	if err := src.WriteVariables(t.Context(), w); err == nil || !strings.Contains(err.Error(), "other values") {
		t.Errorf("the same token with other values: %v", err)
	}
}

func TestPlainSecretWritableAndRotatedAt(t *testing.T) {
	fake := smtest.Start(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fake.PutAt("api/token", oldCanary, created)
	src := openRetrying(t, secrets.Settings{SecretID: "api/token", Endpoint: fake.URL, Name: "API_TOKEN"})
	if err := src.Writable([]string{"API_TOKEN", "API_TOKEN_PREVIOUS"}); !errors.Is(err, provider.ErrUnsupported) {
		t.Errorf("a plain secret cannot hold a previous value: %v", err)
	}
	times, err := src.RotatedAt(t.Context())
	if err != nil || !times["API_TOKEN"].Equal(created) {
		t.Errorf("rotated at: %v %v", times, err)
	}
	if err := src.WriteVariables(t.Context(), provider.VariableWrite{Set: map[string]string{"API_TOKEN": newCanary}, Token: token}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := fake.Staged("api/token", smtest.Current); cur != newCanary {
		t.Errorf("plain secret not written")
	}
	if times, _ := src.RotatedAt(t.Context()); !times["API_TOKEN"].After(created) {
		t.Errorf("the new version's date: %v", times)
	}
}
