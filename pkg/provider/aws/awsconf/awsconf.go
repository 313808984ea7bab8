// Package awsconf loads the AWS SDK configuration that every client of the
// aws family (load balancer, S3 backups, S3 state, Secrets Manager) is built
// from, so that all four resolve credentials and region by one rule. It is
// its own package because package aws imports the clients' packages.
package awsconf

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/deployctl/deployctl/pkg/debuglog"
	"github.com/deployctl/deployctl/pkg/provider"
)

// ConfigError is an AWS setting that is missing or unusable (exit 2).
type ConfigError = provider.ConfigError

// Load returns the configuration with the SDK's default credential chain
// (environment, shared config and profile, instance or task role). The
// region is region, the environment file's setting, if set; else the SDK's
// chain (AWS_REGION, AWS_DEFAULT_REGION, the profile); else a *ConfigError
// naming key, the setting to add. There is no default region: a silent
// us-east-1 would send a client to the wrong resources.
func Load(ctx context.Context, region, key string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, &ConfigError{Msg: "aws configuration (check AWS_PROFILE and the shared config files)", Err: err}
	}
	if cfg.Region == "" {
		return aws.Config{}, &ConfigError{Msg: fmt.Sprintf("aws: no region: set %s in the environment file, or AWS_REGION", key)}
	}
	if debuglog.On() { // -v: every API call, without its signature
		cfg.HTTPClient = debugDoer{cfg.HTTPClient}
	}
	return cfg, nil
}

// debugDoer logs the SDK's requests through debuglog.
type debugDoer struct{ next aws.HTTPClient }

func (d debugDoer) Do(req *http.Request) (*http.Response, error) {
	return debuglog.Transport(doerTransport{d.next}).RoundTrip(req)
}

type doerTransport struct{ aws.HTTPClient }

func (t doerTransport) RoundTrip(req *http.Request) (*http.Response, error) { return t.Do(req) }
