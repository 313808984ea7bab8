// Package s3state keeps an environment's lock, state documents and history
// in an S3 bucket, so that operators on different machines share them. It
// relies on S3's conditional writes (If-None-Match: * to create, If-Match
// ETAG to replace), which S3 has offered since 2024. Without
// traffic.aws-alb.state.bucket the aws family falls back to the operator's
// state folder (pkg/provider/local/statefs).
package s3state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Settings is what this package reads of traffic.aws-alb.
type Settings struct {
	Region string        `mapstructure:"region"`
	State  StateSettings `mapstructure:"state"`
}

// StateSettings is traffic.aws-alb.state: the bucket that holds the lock,
// state and history (none: the operator's state folder).
type StateSettings struct {
	Bucket    string `mapstructure:"bucket"`
	Prefix    string `mapstructure:"prefix"`
	Region    string `mapstructure:"region"` // default: the load balancer's
	Endpoint  string `mapstructure:"endpoint"`
	PathStyle bool   `mapstructure:"path_style"`
}

// API is the S3 calls made here.
type API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Bucket is one environment's folder in the bucket.
type Bucket struct {
	API    API
	Name   string
	Prefix string // "<prefix>/<env>/"
	// Timeout bounds every S3 call, the SDK's retries included (0:
	// DefaultTimeout): a bucket that does not answer fails the command
	// instead of hanging it.
	Timeout time.Duration
}

// DefaultTimeout is the deadline of one S3 call.
const DefaultTimeout = 30 * time.Second

// NewBucket builds the client; opts adjust it (tests).
func NewBucket(ctx context.Context, env provider.Env, s Settings, opts ...func(*s3.Options)) (*Bucket, error) {
	region := s.State.Region
	if region == "" {
		region = s.Region
	}
	cfg, err := awsconf.Load(ctx, region, "traffic.aws-alb.state.region (or traffic.aws-alb.region)")
	if err != nil {
		return nil, err
	}
	c := s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		if s.State.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.State.Endpoint)
		}
		o.UsePathStyle = s.State.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	}}, opts...)...)
	p := strings.Trim(s.State.Prefix, "/")
	if p != "" {
		p += "/"
	}
	return &Bucket{API: c, Name: s.State.Bucket, Prefix: p + env.Name + "/"}, nil
}

func open(ctx context.Context, env provider.Env, d provider.Decode) (*Bucket, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	if s.State.Bucket == "" {
		return nil, nil
	}
	return NewBucket(ctx, env, s)
}

// NewLocker is the aws family's Locker: S3 with state.bucket, else local.
func NewLocker(ctx context.Context, env provider.Env, d provider.Decode) (provider.Locker, error) {
	b, err := open(ctx, env, d)
	if b == nil || err != nil {
		return orLocal(err, statefs.NewLocker, ctx, env, d)
	}
	l := NewS3Locker(b)
	l.Notef = env.Notef
	return l, nil
}

// NewState is the aws family's StateStore: S3 with state.bucket, else local.
func NewState(ctx context.Context, env provider.Env, d provider.Decode) (provider.StateStore, error) {
	b, err := open(ctx, env, d)
	if b == nil || err != nil {
		return orLocal(err, statefs.NewState, ctx, env, d)
	}
	return &State{B: b}, nil
}

// NewHistory is the aws family's HistoryLog: S3 with state.bucket, else local.
func NewHistory(ctx context.Context, env provider.Env, d provider.Decode) (provider.HistoryLog, error) {
	b, err := open(ctx, env, d)
	if b == nil || err != nil {
		return orLocal(err, statefs.NewHistory, ctx, env, d)
	}
	return &History{B: b}, nil
}

func orLocal[T any](err error, local func(context.Context, provider.Env, provider.Decode) (T, error), ctx context.Context, env provider.Env, d provider.Decode) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return local(ctx, env, d)
}

// call runs one S3 call under the bucket's per-call deadline. A deadline of
// ours that fires is an unreachable bucket (exit 4); the caller's own
// cancel or deadline comes back as it is.
func (b *Bucket) call(ctx context.Context, op string, fn func(context.Context) error) error {
	d := b.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return nil
	}
	if ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return provider.Unreachable("s3 bucket "+b.Name, fmt.Errorf("%s: no answer within %s: %w", op, d, context.DeadlineExceeded))
	}
	return b.explain(op, err)
}

// put writes data to key; ifNoneMatch "*" creates only, ifMatch replaces
// only that version. It returns the new ETag.
func (b *Bucket) put(ctx context.Context, key string, data []byte, ifNoneMatch, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + key), Body: bytes.NewReader(data), ContentType: aws.String("application/json")}
	if ifNoneMatch != "" {
		in.IfNoneMatch = aws.String(ifNoneMatch)
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	var etag string
	err := b.call(ctx, "write "+key, func(ctx context.Context) error {
		out, err := b.API.PutObject(ctx, in)
		if err == nil {
			etag = aws.ToString(out.ETag)
		}
		return err
	})
	return etag, err
}

func (b *Bucket) get(ctx context.Context, key string) ([]byte, string, error) {
	var data []byte
	var etag string
	err := b.call(ctx, "read "+key, func(ctx context.Context) error {
		out, err := b.API.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + key)})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		etag = aws.ToString(out.ETag)
		data, err = io.ReadAll(out.Body)
		return err
	})
	return data, etag, err
}

// delete removes key if its ETag is still ifMatch.
func (b *Bucket) delete(ctx context.Context, key, ifMatch string) error {
	return b.call(ctx, "delete "+key, func(ctx context.Context) error {
		_, err := b.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.Name), Key: aws.String(b.Prefix + key), IfMatch: aws.String(ifMatch)})
		return err
	})
}

// errPrecondition is a conditional write that lost.
var errPrecondition = errors.New("precondition failed")

func (b *Bucket) explain(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *smithyhttp.RequestSendError
	if errors.As(err, &se) {
		return provider.Unreachable("s3 bucket "+b.Name, se.Err)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusPreconditionFailed || re.HTTPStatusCode() == http.StatusConflict) {
		return errPrecondition // 409 ConditionalRequestConflict: a concurrent conditional write; also lost
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return provider.ErrNotFound
		case "NoSuchBucket":
			return fmt.Errorf("s3 bucket %s does not exist: create it or fix traffic.aws-alb.state.bucket", b.Name)
		case "AccessDenied":
			return fmt.Errorf("%s in s3 bucket %s: access denied: allow s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it", op, b.Name)
		}
	}
	return fmt.Errorf("%s in s3 bucket %s: %w", op, b.Name, err)
}
