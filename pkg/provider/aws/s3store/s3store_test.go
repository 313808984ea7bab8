package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/faultproxy"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

func newStore(t *testing.T, url string, set s3store.Settings) *s3store.Store {
	t.Helper()
	set.Endpoint, set.PathStyle, set.Region = url, true, s3test.Region
	st, err := s3store.New(t.Context(), set, s3test.Options(url))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// gw is versitygw, a real S3 server; gofakes3 (s3test.Start) serves only
// the tests that must wrap the server's handler.
var gw s3test.Gateway

func TestMain(m *testing.M) { s3test.Main(m, &gw) }

func TestSuite(t *testing.T) {
	providertest.TestBackupStore(t, func(t *testing.T) provider.BackupStore {
		return newStore(t, gw.URL, s3store.Settings{Bucket: gw.NewBucket(t)})
	})
}

func TestSuiteWithPrefix(t *testing.T) {
	providertest.TestBackupStore(t, func(t *testing.T) provider.BackupStore {
		return newStore(t, gw.URL, s3store.Settings{Bucket: gw.NewBucket(t), Prefix: "/prod/db/"})
	})
}

func TestPrefixIsolatesObjects(t *testing.T) {
	bucket := gw.NewBucket(t)
	st := newStore(t, gw.URL, s3store.Settings{Bucket: bucket, Prefix: "prod"})
	if err := st.Put(t.Context(), "id/manifest.json", bytes.NewReader([]byte("{}"))); err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(t.Context(), "")
	if err != nil || len(objs) != 1 || objs[0].Name != "id/manifest.json" {
		t.Fatalf("List = %+v, %v; want the name without the prefix", objs, err)
	}
	other := newStore(t, gw.URL, s3store.Settings{Bucket: bucket, Prefix: "staging"})
	if objs, _ := other.List(t.Context(), ""); len(objs) != 0 {
		t.Fatalf("another prefix sees %+v", objs)
	}
}

func TestServerSideEncryptionSetting(t *testing.T) {
	srv := s3test.Start(t)
	var sse atomic.Value
	sse.Store("")
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Amz-Server-Side-Encryption"); v != "" {
			sse.Store(v)
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	st := newStore(t, rec.URL, s3store.Settings{Bucket: srv.NewBucket(t), SSE: "AES256"})
	if err := st.Put(t.Context(), "x", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if got := sse.Load().(string); got != "AES256" {
		t.Fatalf("server-side encryption header %q, want AES256", got)
	}
	if _, err := s3store.New(t.Context(), s3store.Settings{Bucket: "b", SSE: "rot13"}); err == nil {
		t.Fatal("an unknown sse value was accepted")
	}
}

func TestUnreachableBucket(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	st := newStore(t, url, s3store.Settings{Bucket: "b"})
	_, err := st.List(t.Context(), "")
	var unreach *provider.UnreachableError
	if !errors.As(err, &unreach) {
		t.Fatalf("List on a closed endpoint: %v, want *provider.UnreachableError", err)
	}
}

func TestMissingBucketSaysSo(t *testing.T) {
	gw.Need(t)
	st := newStore(t, gw.URL, s3store.Settings{Bucket: "nope"})
	if _, err := st.List(t.Context(), ""); err == nil || !strings.Contains(err.Error(), `"nope" does not exist`) {
		t.Fatalf("List on a missing bucket: %v", err)
	}
}

func TestNeedsBucket(t *testing.T) {
	if _, err := s3store.New(t.Context(), s3store.Settings{}, func(*s3.Options) {}); err == nil {
		t.Fatal("a store without bucket was built")
	}
}

func TestAbortIncompleteUploads(t *testing.T) {
	bucket := gw.NewBucket(t)
	st := newStore(t, gw.URL, s3store.Settings{Bucket: bucket, Prefix: "prod"})
	cl := s3.New(s3.Options{Region: s3test.Region}, s3test.Options(gw.URL))
	for _, key := range []string{"prod/id1/dump.zst", "other/id2/dump.zst"} {
		up, err := cl.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("x"), 1000))}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.AbortIncomplete(t.Context(), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("uploads younger than the limit: aborted %d, %v", n, err)
	}
	if n, err := st.AbortIncomplete(t.Context(), time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("aborted %d, %v; want the one under the prefix", n, err)
	}
	left, err := cl.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(left.Uploads) != 1 || aws.ToString(left.Uploads[0].Key) != "other/id2/dump.zst" {
		t.Fatalf("left: %+v, %v", left, err)
	}
}

// A bucket that accepts connections but never answers fails each call
// within the per-call deadline as unreachable (exit 4); cancel (Ctrl-C)
// still ends a call at once with context.Canceled.
func TestBlackHoledBucketFailsWithinTheDeadline(t *testing.T) {
	bucket := gw.NewBucket(t)
	p := faultproxy.Start(t, gw.URL, nil, false)
	st := newStore(t, p.URL(), s3store.Settings{Bucket: bucket})
	if err := st.Put(t.Context(), "x", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	st.Timeout = 300 * time.Millisecond
	hole := p.On(func(*http.Request) bool { return true }, faultproxy.BlackHole, 0)
	calls := map[string]func(ctx context.Context) error{
		"List":   func(ctx context.Context) error { _, err := st.List(ctx, ""); return err },
		"Get":    func(ctx context.Context) error { _, err := st.Get(ctx, "x"); return err },
		"Delete": func(ctx context.Context) error { return st.Delete(ctx, "x") },
		"AbortIncomplete": func(ctx context.Context) error {
			_, err := st.AbortIncomplete(ctx, time.Now())
			return err
		},
	}
	for name, call := range calls {
		err := hangDetector(t, name, func() error { return call(t.Context()) })
		var unreach *provider.UnreachableError
		if !errors.As(err, &unreach) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a black-holed bucket: %v; want unreachable, no answer within the deadline", name, err)
		}
	}
	st.Timeout = time.Hour
	before := hole.Seen()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		testkit.WaitFor(t, "the request in the black hole", 10*time.Second, func() bool { return hole.Seen() > before })
		cancel()
	}()
	if err := hangDetector(t, "List after cancel", func() error { _, err := st.List(ctx, ""); return err }); !errors.Is(err, context.Canceled) {
		t.Fatalf("List cancelled in a black hole: %v, want context.Canceled", err)
	}
}

// hangDetector fails the test when fn has not returned after a minute, far
// above the deadlines under test.
func hangDetector(t *testing.T, what string, fn func() error) error {
	t.Helper()
	c := make(chan error, 1)
	go func() { c <- fn() }()
	select {
	case err := <-c:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s still hangs after a minute", what)
		return nil
	}
}
