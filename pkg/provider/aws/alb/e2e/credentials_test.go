package e2e

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"
)

// The AWS configuration errors are the operator's to fix: exit 2, with
// what to do.
func TestAWSConfigurationErrorsExit2(t *testing.T) {
	const sso = "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Admin\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\n"
	sum := sha1.Sum([]byte("corp"))
	cases := []struct {
		name  string
		env   []string
		files map[string]string
		hints []string
	}{
		{name: "no credentials", env: []string{}, hints: []string{"no usable AWS credentials", "AWS_PROFILE", "AWS_ACCESS_KEY_ID"}},
		{name: "unknown profile", env: []string{"AWS_PROFILE=nowhere"}, files: map[string]string{".aws/config": "[profile staging]\n"}, hints: []string{`"nowhere"`, "aws configure list-profiles"}},
		{name: "expired SSO session", env: []string{"AWS_PROFILE=dev"}, files: map[string]string{
			".aws/config": sso,
			".aws/sso/cache/" + hex.EncodeToString(sum[:]) + ".json": `{"accessToken":"expired","expiresAt":"2020-01-01T00:00:00Z","region":"eu-west-1","startUrl":"https://corp.awsapps.com/start"}`,
		}, hints: []string{"aws sso login --profile dev"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newProject(t)
			p.awsEnv = c.env
			for rel, content := range c.files {
				p.write(rel, content)
			}
			for _, args := range [][]string{{"rollout", "status"}, {"maintenance", "on"}} {
				r := p.run(args...)
				t.Logf("deployctl %s:\n%s", strings.Join(args, " "), r.stderr)
				if r.code != 2 {
					t.Errorf("deployctl %s: exit %d, want 2\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
				}
				for _, h := range c.hints {
					if !strings.Contains(r.stderr, h) {
						t.Errorf("deployctl %s: stderr does not say %q:\n%s", strings.Join(args, " "), h, r.stderr)
					}
				}
			}
		})
	}
}
