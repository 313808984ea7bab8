package s3state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// State keeps each document as state/<key>.json; its ETag is the version.
type State struct{ B *Bucket }

var validKey = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*$`)

func stateKey(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("invalid state key %q", key)
	}
	return "state/" + key + ".json", nil
}

// Load returns the document and its version.
func (s *State) Load(ctx context.Context, key string) ([]byte, string, error) {
	k, err := stateKey(key)
	if err != nil {
		return nil, "", err
	}
	return s.B.get(ctx, k)
}

// Save writes data when the stored version is still version ("" for new).
func (s *State) Save(ctx context.Context, key string, data []byte, version string) error {
	k, err := stateKey(key)
	if err != nil {
		return err
	}
	none := ""
	if version == "" {
		none = "*"
	}
	_, err = s.B.put(ctx, k, data, none, version)
	if errors.Is(err, errPrecondition) {
		return provider.ErrConflict
	}
	return err
}

// History keeps one object per entry, history/<time>-<random>.json, so
// concurrent appends never conflict and names sort by time.
type History struct{ B *Bucket }

const timeKey = "20060102T150405.000000000Z"

// Append stores e.
func (h *History) Append(ctx context.Context, e provider.Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	_, err = h.B.put(ctx, "history/"+e.Time.UTC().Format(timeKey)+"-"+hex.EncodeToString(r[:])+".json", data, "*", "")
	return err
}

// List returns the matching entries, oldest first.
func (h *History) List(ctx context.Context, f provider.Filter) ([]provider.Entry, error) {
	keys, err := h.keys(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []provider.Entry
	for _, k := range keys {
		data, _, err := h.B.get(ctx, k)
		if errors.Is(err, provider.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var e provider.Entry
		if json.Unmarshal(data, &e) == nil && statefs.Match(e, f) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// keys lists the entry objects, skipping those older than f.Since by name.
func (h *History) keys(ctx context.Context, f provider.Filter) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(h.B.Name), Prefix: aws.String(h.B.Prefix + "history/")}
	since := ""
	if !f.Since.IsZero() {
		since = f.Since.UTC().Format(timeKey)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(h.B.API, in)
	for p.HasMorePages() {
		var page *s3.ListObjectsV2Output
		err := h.B.call(ctx, "list history", func(ctx context.Context) (err error) {
			page, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), h.B.Prefix)
			if since == "" || strings.TrimPrefix(k, "history/") >= since {
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys, nil
}
