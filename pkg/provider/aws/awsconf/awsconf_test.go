package awsconf_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets"
)

// isolate clears the SDK's region sources and points it at a shared config
// file holding config (empty: none), so that the machine's AWS setup does
// not decide the test.
func isolate(t *testing.T, config string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": ""} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(name, path)
	}
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		t.Setenv(name, "")
	}
}

func TestRegion(t *testing.T) {
	cases := []struct {
		name, config, env, region, want string
	}{
		{name: "the setting wins over AWS_REGION", env: "eu-west-1", region: "eu-central-1", want: "eu-central-1"},
		{name: "AWS_REGION without a setting", env: "eu-west-1", want: "eu-west-1"},
		{name: "the profile without either", config: "[default]\nregion = ap-southeast-2\n", want: "ap-southeast-2"},
		{name: "AWS_REGION wins over the profile", config: "[default]\nregion = ap-southeast-2\n", env: "eu-west-1", want: "eu-west-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			isolate(t, c.config)
			t.Setenv("AWS_REGION", c.env)
			cfg, err := awsconf.Load(t.Context(), c.region, "backup.storage.region")
			if err != nil || cfg.Region != c.want {
				t.Fatalf("region %q, %v; want %q", cfg.Region, err, c.want)
			}
		})
	}
}

func TestAWSDefaultRegion(t *testing.T) {
	isolate(t, "")
	t.Setenv("AWS_DEFAULT_REGION", "us-west-2")
	if cfg, err := awsconf.Load(t.Context(), "", "backup.storage.region"); err != nil || cfg.Region != "us-west-2" {
		t.Fatalf("region %q, %v; want AWS_DEFAULT_REGION's us-west-2", cfg.Region, err)
	}
}

func TestNoRegionIsAConfigError(t *testing.T) {
	isolate(t, "")
	_, err := awsconf.Load(t.Context(), "", "backup.storage.region")
	var ce *awsconf.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v (%T), want *awsconf.ConfigError", err, err)
	}
	for _, want := range []string{"no region", "set backup.storage.region in the environment file", "AWS_REGION"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestMissingProfileIsAConfigError(t *testing.T) {
	isolate(t, "")
	t.Setenv("AWS_PROFILE", "nowhere")
	_, err := awsconf.Load(t.Context(), "eu-west-1", "backup.storage.region")
	var ce *awsconf.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("err %v (%T), want a *awsconf.ConfigError naming the profile", err, err)
	}
}

// TestEveryClientUsesTheRule builds each of the family's four clients
// without any region and checks that each names its own setting.
func TestEveryClientUsesTheRule(t *testing.T) {
	isolate(t, "")
	var state s3state.Settings
	state.State.Bucket = "state"
	var lb alb.Settings
	lb.ListenerARN, lb.Slots.Blue.TargetGroupARN, lb.Slots.Green.TargetGroupARN = "listener", "blue", "green"
	clients := map[string]func(context.Context) error{
		"backup.storage.region": func(ctx context.Context) error {
			_, err := s3store.New(ctx, s3store.Settings{Bucket: "backups"})
			return err
		},
		"traffic.aws-alb.region": func(ctx context.Context) error {
			_, err := alb.New(ctx, provider.Env{Name: "production"}, lb)
			return err
		},
		"traffic.aws-alb.state.region": func(ctx context.Context) error {
			_, err := s3state.NewBucket(ctx, provider.Env{Name: "production"}, state)
			return err
		},
		"region in the aws-secrets source of api/production": func(ctx context.Context) error {
			_, err := secrets.New(ctx, secrets.Settings{SecretID: "api/production"})
			return err
		},
	}
	for key, build := range clients {
		err := build(t.Context())
		var ce *awsconf.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: err %v (%T), want a *awsconf.ConfigError naming it", key, err, err)
		}
	}
}

// isolateCredentials is isolate with HOME in a temporary folder and no
// credentials from the environment or the instance metadata.
func isolateCredentials(t *testing.T, config string) string {
	t.Helper()
	isolate(t, config)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	return home
}

// retrieveError loads the configuration and runs its credential chain, as
// the first API call of any client does.
func retrieveError(t *testing.T) error {
	t.Helper()
	cfg, err := awsconf.Load(t.Context(), "eu-west-1", "backup.storage.region")
	if err != nil {
		return err
	}
	_, err = cfg.Credentials.Retrieve(t.Context())
	return err
}

func wantConfigError(t *testing.T, err error, hints ...string) {
	t.Helper()
	var ce *provider.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err %v (%T), want a *provider.ConfigError (exit 2)", err, err)
	}
	for _, h := range hints {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("%q does not say %q", err, h)
		}
	}
}

func TestNoCredentialsIsAConfigError(t *testing.T) {
	isolateCredentials(t, "")
	wantConfigError(t, retrieveError(t), "no usable AWS credentials", "set AWS_PROFILE", "AWS_ACCESS_KEY_ID")
}

func TestUnknownProfileIsAConfigErrorWithTheHint(t *testing.T) {
	isolateCredentials(t, "[profile staging]\nregion = eu-west-1\n")
	t.Setenv("AWS_PROFILE", "prod")
	wantConfigError(t, retrieveError(t), `"prod"`, os.Getenv("AWS_CONFIG_FILE"), "aws configure list-profiles")
}

// ssoCache writes an expired cached SSO token for key (the start URL of a
// legacy profile, or the sso-session name), as `aws sso login` leaves it
// when the session ends.
func ssoCache(t *testing.T, home, key string) {
	t.Helper()
	dir := filepath.Join(home, ".aws", "sso", "cache")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(key))
	token := `{"accessToken":"expired-token","expiresAt":"2020-01-01T00:00:00Z","region":"eu-west-1","startUrl":"https://corp.awsapps.com/start"}`
	if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])+".json"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredSSOSessionIsAConfigError(t *testing.T) {
	cases := map[string]struct{ config, key string }{
		"legacy profile": {"[profile dev]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = Admin\n", "https://corp.awsapps.com/start"},
		"sso-session":    {"[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n", "corp"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			home := isolateCredentials(t, c.config)
			ssoCache(t, home, c.key)
			t.Setenv("AWS_PROFILE", "dev")
			err := retrieveError(t)
			wantConfigError(t, err, "aws sso login --profile dev")
			if strings.Contains(err.Error(), "expired-token") {
				t.Errorf("the error shows the cached token: %v", err)
			}
		})
	}
}
