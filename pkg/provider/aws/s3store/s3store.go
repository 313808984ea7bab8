// Package s3store is the aws family's BackupStore: objects in an S3 bucket
// (or any S3-protocol server), under an optional prefix. Put streams through
// transfermanager's multipart upload, which publishes the object only when
// the upload completes and aborts it on failure, so a reader never sees a
// partial object.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// Settings is the backup.storage section for provider "s3".
type Settings struct {
	Bucket    string `mapstructure:"bucket"`
	Prefix    string `mapstructure:"prefix"`
	Region    string `mapstructure:"region"`
	Endpoint  string `mapstructure:"endpoint"`
	PathStyle bool   `mapstructure:"path_style"`
	SSE       string `mapstructure:"sse"` // "", AES256, aws:kms
	// Timeout bounds each call but uploads (Store.Timeout; 0: DefaultTimeout).
	Timeout time.Duration `mapstructure:"timeout"`
}

// String names the storage for people: "s3://bucket/prefix".
func (s *Settings) String() string { return fmt.Sprintf("s3://%s/%s", s.Bucket, s.Prefix) }

// PartSize is the multipart part size. With Concurrency parts in flight it
// bounds the memory of an upload (about 3 × 8 MiB).
const (
	PartSize    = 8 << 20
	Concurrency = 3
)

// Store keeps objects in one bucket under Prefix.
type Store struct {
	client *s3.Client
	tm     *transfermanager.Client
	set    Settings
	// Timeout bounds each listing, delete and abort, and the wait for the
	// start of a download's answer (0: DefaultTimeout). Uploads and the
	// download of a body run as long as the command's context allows.
	Timeout time.Duration
}

// DefaultTimeout is the deadline of one S3 call of the backup store.
const DefaultTimeout = 30 * time.Second

// call runs fn under the per-call deadline; our deadline firing is an
// unreachable bucket, the caller's cancel comes back as it is.
func (s *Store) call(ctx context.Context, op string, fn func(context.Context) error) error {
	d := s.timeout()
	cctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return provider.Unreachable("s3 bucket "+s.set.Bucket, fmt.Errorf("%s: no answer within %s: %w", op, d, context.DeadlineExceeded))
	}
	return err
}

func (s *Store) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

var _ provider.BackupStore = (*Store)(nil)

// Open builds the store from backup.storage, configured by awsconf.Load.
func Open(ctx context.Context, _ provider.Env, d provider.Decode) (provider.BackupStore, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	return New(ctx, s)
}

// New builds a store; opts adjust the S3 client (tests set credentials and
// an HTTP client).
func New(ctx context.Context, s Settings, opts ...func(*s3.Options)) (*Store, error) {
	if s.Bucket == "" {
		return nil, errors.New("backup.storage.bucket is empty: set the S3 bucket that holds the backups")
	}
	switch s.SSE {
	case "", "AES256", "aws:kms":
	default:
		return nil, fmt.Errorf("backup.storage.sse %q: use AES256, aws:kms or leave it empty", s.SSE)
	}
	cfg, err := awsconf.Load(ctx, s.Region, "backup.storage.region")
	if err != nil {
		return nil, err
	}
	client := s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		o.UsePathStyle = s.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	}}, opts...)...)
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = PartSize
		o.Concurrency = Concurrency
		o.MultipartUploadThreshold = PartSize
	})
	s.Prefix = strings.Trim(s.Prefix, "/")
	return &Store{client: client, tm: tm, set: s, Timeout: s.Timeout}, nil
}

func (s *Store) key(name string) string {
	if s.set.Prefix == "" {
		return name
	}
	return s.set.Prefix + "/" + name
}

// Put streams r into the bucket as name.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	in := &transfermanager.UploadObjectInput{Bucket: aws.String(s.set.Bucket), Key: aws.String(s.key(name)), Body: r}
	if s.set.SSE != "" {
		in.ServerSideEncryption = tmtypes.ServerSideEncryption(s.set.SSE)
	}
	if _, err := s.tm.UploadObject(ctx, in); err != nil {
		return s.wrap("put "+name, err)
	}
	return nil
}

// Get opens name for reading. The answer must start within Timeout; the
// body then reads as long as ctx allows.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	gctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(s.timeout(), cancel)
	out, err := s.client.GetObject(gctx, &s3.GetObjectInput{Bucket: aws.String(s.set.Bucket), Key: aws.String(s.key(name))})
	fired := !timer.Stop()
	if err != nil {
		cancel()
		if fired && ctx.Err() == nil {
			return nil, provider.Unreachable("s3 bucket "+s.set.Bucket, fmt.Errorf("get %s: no answer within %s: %w", name, s.timeout(), context.DeadlineExceeded))
		}
		return nil, s.wrap("get "+name, err)
	}
	return &cancelOnClose{ReadCloser: out.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// List returns the objects whose names start with prefix, sorted by name.
func (s *Store) List(ctx context.Context, prefix string) ([]provider.Object, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.set.Bucket), Prefix: aws.String(s.key(prefix))})
	var out []provider.Object
	for p.HasMorePages() {
		var page *s3.ListObjectsV2Output
		err := s.call(ctx, "list", func(ctx context.Context) (err error) {
			page, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, s.wrap("list", err)
		}
		for _, o := range page.Contents {
			name := aws.ToString(o.Key)
			if s.set.Prefix != "" {
				name = strings.TrimPrefix(name, s.set.Prefix+"/")
			}
			out = append(out, provider.Object{Name: name, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified).UTC()})
		}
	}
	return out, nil
}

// Delete removes name; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	err := s.call(ctx, "delete "+name, func(ctx context.Context) error {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.set.Bucket), Key: aws.String(s.key(name))})
		return err
	})
	if err != nil && !errors.Is(s.wrap("", err), provider.ErrNotFound) {
		return s.wrap("delete "+name, err)
	}
	return nil
}

// wrap maps SDK errors: a missing key to provider.ErrNotFound, a bucket
// that cannot be reached to *provider.UnreachableError.
func (s *Store) wrap(op string, err error) error {
	var nsk *types.NoSuchKey
	var api smithy.APIError
	if errors.As(err, &nsk) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
		return fmt.Errorf("%s: %w", op, provider.ErrNotFound)
	}
	var unreach *provider.UnreachableError
	if errors.Is(err, context.Canceled) || errors.As(err, &unreach) {
		return err
	}
	what := "s3 bucket " + s.set.Bucket
	var netErr net.Error
	var respErr interface{ HTTPStatusCode() int }
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return provider.Unreachable(what, fmt.Errorf("%s: %w", op, err))
	}
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= http.StatusInternalServerError {
		return provider.Unreachable(what, fmt.Errorf("%s: %w", op, err))
	}
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket" {
		return fmt.Errorf("%s: bucket %q does not exist: create it or fix backup.storage.bucket", op, s.set.Bucket)
	}
	return fmt.Errorf("%s %s: %w", what, op, err)
}
