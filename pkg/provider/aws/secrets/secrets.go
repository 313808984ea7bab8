// Package secrets is the aws family's variable source `aws-secrets`: the
// application's variables from one AWS Secrets Manager secret, either a
// JSON object (each key a variable) or a plain string (one variable, named
// by the `name` setting). Values never appear in errors or logs.
package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// Settings is a `type: aws-secrets` entry of variables.sources.
type Settings struct {
	Type         string `mapstructure:"type"`
	SecretID     string `mapstructure:"secret_id"` // name or ARN
	Region       string `mapstructure:"region"`
	Endpoint     string `mapstructure:"endpoint"`
	Name         string `mapstructure:"name"`          // plain-string secret: the variable's name
	VersionStage string `mapstructure:"version_stage"` // default AWSCURRENT
}

type getSecretValue interface {
	GetSecretValue(context.Context, *sm.GetSecretValueInput, ...func(*sm.Options)) (*sm.GetSecretValueOutput, error)
}

// api is what the source calls: reading, and writing for `env rotate`.
type api interface {
	getSecretValue
	PutSecretValue(context.Context, *sm.PutSecretValueInput, ...func(*sm.Options)) (*sm.PutSecretValueOutput, error)
}

// Source reads one secret.
type Source struct {
	API      api
	Settings Settings
	// Timeout bounds the call, its retries included (0: DefaultTimeout); a
	// call that runs out is an unreachable Secrets Manager (exit 4).
	Timeout time.Duration
}

// DefaultTimeout is how long reading a secret may take in all.
const DefaultTimeout = 30 * time.Second

var _ provider.VariableSource = (*Source)(nil)

// Open is the family's constructor for `aws-secrets`.
func Open(ctx context.Context, _ provider.Env, d provider.Decode) (provider.VariableSource, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	return New(ctx, s)
}

// New builds the source, configured by awsconf.Load; opts adjust the client
// (tests set credentials).
func New(ctx context.Context, s Settings, opts ...func(*sm.Options)) (*Source, error) {
	if s.SecretID == "" {
		return nil, errors.New("variables source aws-secrets: set secret_id (the secret's name or ARN)")
	}
	cfg, err := awsconf.Load(ctx, s.Region, "region in the aws-secrets source of "+s.SecretID)
	if err != nil {
		return nil, err
	}
	// The region may have come from AWS_REGION or the profile; errors name it.
	s.Region = cfg.Region
	c := sm.NewFromConfig(cfg, append([]func(*sm.Options){func(o *sm.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
	}}, opts...)...)
	return &Source{API: c, Settings: s}, nil
}

// Label is how variables from this source are attributed.
func (s *Source) Label() string { return "aws-secrets:" + s.Settings.SecretID }

// Load fetches the secret and returns its variables sorted by name.
func (s *Source) Load(ctx context.Context) ([]provider.Variable, error) {
	in := &sm.GetSecretValueInput{SecretId: aws.String(s.Settings.SecretID)}
	if s.Settings.VersionStage != "" {
		in.VersionStage = aws.String(s.Settings.VersionStage)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := s.API.GetSecretValue(cctx, in)
	if err != nil {
		if ctx.Err() == nil && cctx.Err() != nil { // our deadline, not the command's end
			return nil, provider.Unreachable(s.where(), fmt.Errorf("no answer within %s", timeout))
		}
		return nil, s.explain(err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("secret %s is binary: store the variables as a JSON object or a string", s.Settings.SecretID)
	}
	return s.parse(*out.SecretString)
}

func (s *Source) parse(str string) ([]provider.Variable, error) {
	if s.Settings.Name != "" {
		return []provider.Variable{{Name: s.Settings.Name, Value: str, Source: s.Label()}}, nil
	}
	dec := json.NewDecoder(strings.NewReader(str))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		// The decoder's message may quote the value: leave it out.
		return nil, fmt.Errorf("secret %s is not a JSON object of variables: set `name` in its source entry to use the whole string as one variable", s.Settings.SecretID)
	}
	out := make([]provider.Variable, 0, len(obj))
	for k, raw := range obj {
		out = append(out, provider.Variable{Name: k, Value: scalar(raw), Source: s.Label()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// scalar is a JSON string's text, or any other value's JSON (numbers and
// booleans as written; objects compacted), as the console's key/value
// editor would expect.
func scalar(raw json.RawMessage) string {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
}

func (s *Source) explain(err error) error {
	id := s.Settings.SecretID
	// The credential chain's failures come explained by awsconf (exit 2,
	// or 4 for an unreachable STS or SSO endpoint).
	var ce *provider.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("secret %s: %w", id, ce)
	}
	var ue *provider.UnreachableError
	if errors.As(err, &ue) {
		return ue
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return provider.Unreachable(s.where(), se.Err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("secret %s: %w", id, err)
	}
	switch ae.ErrorCode() {
	case "ResourceNotFoundException":
		return fmt.Errorf("secret %s does not exist in region %s (or has no version %s): check secret_id and region (aws secretsmanager list-secrets)", id, s.Settings.Region, orDefault(s.Settings.VersionStage))
	case "AccessDeniedException", "AccessDenied":
		return fmt.Errorf("secret %s: the AWS identity may not read it: allow secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) in the IAM policy", id)
	case "DecryptionFailure":
		return fmt.Errorf("secret %s: its KMS key cannot decrypt it for this identity: allow kms:Decrypt on the key", id)
	case "InvalidRequestException":
		return fmt.Errorf("secret %s cannot be read now (is it scheduled for deletion?): %s", id, ae.ErrorMessage())
	case "ThrottlingException", "Throttling":
		return fmt.Errorf("secret %s: AWS throttled Secrets Manager even after retries: wait a minute and run again", id)
	}
	return fmt.Errorf("secret %s: Secrets Manager: %s: %s", id, ae.ErrorCode(), ae.ErrorMessage())
}

func orDefault(stage string) string {
	if stage == "" {
		return "AWSCURRENT"
	}
	return stage
}

// where names the service a call went to, for unreachable errors.
func (s *Source) where() string {
	if s.Settings.Endpoint != "" {
		return "AWS Secrets Manager at " + s.Settings.Endpoint
	}
	return "AWS Secrets Manager in " + s.Settings.Region
}
