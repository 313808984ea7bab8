package secrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/deployctl/deployctl/pkg/provider"
)

var (
	_ provider.VariableWriter = (*Source)(nil)
	_ provider.RotationTimes  = (*Source)(nil)
)

// Where names the secret for people.
func (s *Source) Where() string { return "AWS Secrets Manager secret " + s.Settings.SecretID }

// Writable: a JSON secret takes any names; a plain-string secret only its
// one variable; a source pinned to another stage than AWSCURRENT none.
func (s *Source) Writable(names []string) error {
	if st := s.Settings.VersionStage; st != "" && st != "AWSCURRENT" {
		return fmt.Errorf("secret %s is read at stage %s: writing is %w (a write makes a new AWSCURRENT version); read AWSCURRENT to rotate here", s.Settings.SecretID, st, provider.ErrUnsupported)
	}
	if s.Settings.Name == "" {
		return nil
	}
	for _, n := range names {
		if n != s.Settings.Name {
			return fmt.Errorf("secret %s holds the one variable %s, so writing %s there is %w: store the variables as a JSON object to keep a previous value", s.Settings.SecretID, s.Settings.Name, n, provider.ErrUnsupported)
		}
	}
	return nil
}

// WriteVariables puts a new AWSCURRENT version holding w's values (the
// old one becomes AWSPREVIOUS) with PutSecretValue, w.Token as its
// ClientRequestToken: retried, the request creates one version. A failed
// put leaves the current version, and so every value, as it was.
func (s *Source) WriteVariables(ctx context.Context, w provider.VariableWrite) error {
	names := make([]string, 0, len(w.Set))
	for n := range w.Set {
		names = append(names, n)
	}
	if err := s.Writable(names); err != nil {
		return err
	}
	token := w.Token
	if token == "" {
		token = newToken()
	}
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	str, err := s.newString(cctx, w.Set)
	if err != nil {
		return err
	}
	_, err = s.API.PutSecretValue(cctx, &sm.PutSecretValueInput{
		SecretId: aws.String(s.Settings.SecretID), SecretString: aws.String(str), ClientRequestToken: aws.String(token),
	})
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !(errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient) && s.landed(ctx, token) {
		return nil // the reply was lost, the version is there
	}
	return s.writeFailed(ctx, cctx, err)
}

func (s *Source) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

// newString is the current secret with set applied.
func (s *Source) newString(ctx context.Context, set map[string]string) (string, error) {
	if s.Settings.Name != "" {
		return set[s.Settings.Name], nil
	}
	out, err := s.API.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(s.Settings.SecretID)})
	if err != nil {
		return "", fmt.Errorf("%w; nothing was written", s.explain(err))
	}
	obj := map[string]json.RawMessage{}
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &obj) != nil {
		return "", fmt.Errorf("secret %s is not a JSON object of variables: nothing was written", s.Settings.SecretID)
	}
	for k, v := range set {
		raw, _ := json.Marshal(v)
		obj[k] = raw
	}
	b, err := json.Marshal(obj)
	return string(b), err
}

// landed reports whether the version with token exists: a put whose
// reply was lost took effect.
func (s *Source) landed(ctx context.Context, token string) bool {
	cctx, cancel := s.callContext(context.WithoutCancel(ctx))
	defer cancel()
	_, err := s.API.GetSecretValue(cctx, &sm.GetSecretValueInput{SecretId: aws.String(s.Settings.SecretID), VersionId: aws.String(token)})
	return err == nil
}

func (s *Source) writeFailed(ctx, cctx context.Context, err error) error {
	id := s.Settings.SecretID
	if ctx.Err() == nil && cctx.Err() != nil {
		err = provider.Unreachable(s.where(), fmt.Errorf("no answer within the time limit"))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied":
			err = errors.New("the AWS identity may not write it: allow secretsmanager:PutSecretValue on it (and kms:GenerateDataKey on its key)")
		case "ResourceExistsException":
			err = errors.New("a version with this request's token already holds other values; run the rotation again")
		default:
			err = s.explain(err)
		}
	}
	return fmt.Errorf("write secret %s: %w; no new version was created: it keeps the old values", id, err)
}

// newToken is a fresh ClientRequestToken (32 hex digits).
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RotatedAt is the creation date of the secret's AWSCURRENT version for
// every variable it holds: the last time any of them changed, so a
// variable is never thought older than it is.
func (s *Source) RotatedAt(ctx context.Context) (map[string]time.Time, error) {
	cctx, cancel := s.callContext(ctx)
	defer cancel()
	out, err := s.API.GetSecretValue(cctx, &sm.GetSecretValueInput{SecretId: aws.String(s.Settings.SecretID)})
	if err != nil {
		return nil, s.explain(err)
	}
	if out.CreatedDate == nil || out.SecretString == nil {
		return nil, nil
	}
	vs, err := s.parse(*out.SecretString)
	if err != nil {
		return nil, err
	}
	times := map[string]time.Time{}
	for _, v := range vs {
		times[v.Name] = out.CreatedDate.UTC()
	}
	return times, nil
}
