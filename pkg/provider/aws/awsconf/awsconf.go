// Package awsconf loads the AWS SDK configuration that every client of the
// aws family (load balancer, S3 backups, S3 state, Secrets Manager) is built
// from, so that all four resolve credentials and region by one rule. It is
// its own package because package aws imports the clients' packages.
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	smithyhttp "github.com/aws/smithy-go/transport/http"

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
		return aws.Config{}, loadError(err)
	}
	if cfg.Region == "" {
		return aws.Config{}, &ConfigError{Msg: fmt.Sprintf("aws: no region: set %s in the environment file, or AWS_REGION", key)}
	}
	if cfg.Credentials != nil {
		// The chain runs at the first call; its failures say what to do.
		cfg.Credentials = aws.NewCredentialsCache(explained{next: cfg.Credentials, profile: profile()})
	}
	if debuglog.On() { // -v: every API call, without its signature
		cfg.HTTPClient = debugDoer{cfg.HTTPClient}
	}
	return cfg, nil
}

func loadError(err error) error {
	var np awsconfig.SharedConfigProfileNotExistError
	if errors.As(err, &np) {
		files := np.Filename
		if len(files) == 0 {
			files = []string{envOr("AWS_CONFIG_FILE", awsconfig.DefaultSharedConfigFilename()), envOr("AWS_SHARED_CREDENTIALS_FILE", awsconfig.DefaultSharedCredentialsFilename())}
		}
		return &ConfigError{Msg: fmt.Sprintf("aws: the profile %q (AWS_PROFILE) is not in %s: set AWS_PROFILE to one of `aws configure list-profiles`, or unset it", np.Profile, strings.Join(files, " or "))}
	}
	return &ConfigError{Msg: "aws configuration (check AWS_PROFILE and the shared config files)", Err: err}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func profile() string {
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "default"
}

// explained runs the SDK's credential chain and turns its failures into
// what the operator does next.
type explained struct {
	next    aws.CredentialsProvider
	profile string
}

func (e explained) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := e.next.Retrieve(ctx)
	if err != nil {
		return c, credentialsError(ctx, e.profile, err)
	}
	return c, nil
}

// credentialsError classifies a failure of the credential chain: an SSO
// session without a valid cached token and a chain that found nothing are
// *ConfigError (exit 2); an unreachable STS or SSO endpoint is
// unreachable (exit 4). The SDK's text is kept, flattened, so that callers
// looking for a transport error do not find the instance metadata probe's.
func credentialsError(ctx context.Context, profile string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	text := err.Error()
	var sso *ssocreds.InvalidTokenError
	if errors.As(err, &sso) || strings.Contains(text, "SSO token") {
		return &ConfigError{Msg: fmt.Sprintf("aws: the SSO session of profile %s has expired or was never started: run `aws sso login --profile %s`", profile, profile), Err: errors.New(text)}
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) && !strings.Contains(text, "ec2imds") && !strings.Contains(text, "EC2 IMDS") {
		return provider.Unreachable("AWS credentials endpoint (STS or SSO)", se.Err)
	}
	return &ConfigError{Msg: "aws: no usable AWS credentials: set AWS_PROFILE (a profile of ~/.aws/config) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or task role applies", Err: errors.New(text)}
}

// debugDoer logs the SDK's requests through debuglog.
type debugDoer struct{ next aws.HTTPClient }

func (d debugDoer) Do(req *http.Request) (*http.Response, error) {
	return debuglog.Transport(doerTransport{d.next}).RoundTrip(req)
}

type doerTransport struct{ aws.HTTPClient }

func (t doerTransport) RoundTrip(req *http.Request) (*http.Response, error) { return t.Do(req) }
