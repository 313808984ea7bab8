// Package s3test runs S3 servers for tests and creates buckets on them:
// Gateway is versitygw, a real S3 server that enforces conditional writes,
// run as a process per test package (Main); Server is gofakes3 in-process,
// for the tests that must wrap the server's handler or run without the
// versitygw binary. gofakes3 ignores If-Match and If-None-Match: anything
// that relies on them is tested against the Gateway.
package s3test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Static credentials both servers accept; the built binary gets them as
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (see Environ).
const (
	AccessKey = "AKIDDEPLOYCTLTEST"
	SecretKey = "deployctl-test-secret"
	Region    = "eu-west-1"
)

var bucketN atomic.Int64

// Server is a running fake S3.
type Server struct {
	URL string
	srv *httptest.Server
}

// Start starts a server that stops at the end of t.
func Start(t testing.TB) *Server {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, srv: srv}
}

// Handler is the server's handler, for tests that wrap it.
func (s *Server) Handler() http.Handler { return s.srv.Config.Handler }

// Options points an S3 client at url with the static credentials.
func Options(url string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")
		o.HTTPClient = &http.Client{}
		o.BaseEndpoint = aws.String(url)
		o.UsePathStyle = true
	}
}

// NewBucket creates a bucket with a fresh name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("backups-%d", bucketN.Add(1))
	cl := s3.New(s3.Options{Region: Region}, Options(s.URL))
	if _, err := cl.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

// Environ is what a child process (the built binary) needs to reach the
// server with the default credential chain.
func Environ() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region, "AWS_EC2_METADATA_DISABLED=true", "AWS_CA_BUNDLE="}
}
