package s3store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// AbortIncomplete aborts the multipart uploads under the prefix that started
// before before: what a create killed mid-upload leaves. List does not show
// them, but the bucket keeps (and bills) their parts.
func (s *Store) AbortIncomplete(ctx context.Context, before time.Time) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(s.set.Bucket)}
	if s.set.Prefix != "" {
		in.Prefix = aws.String(s.set.Prefix + "/")
	}
	p := s3.NewListMultipartUploadsPaginator(s.client, in)
	n := 0
	for p.HasMorePages() {
		var page *s3.ListMultipartUploadsOutput
		err := s.call(ctx, "list incomplete uploads", func(ctx context.Context) (err error) {
			page, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return n, s.wrap("list incomplete uploads", err)
		}
		for _, u := range page.Uploads {
			if !aws.ToTime(u.Initiated).Before(before) {
				continue
			}
			err := s.call(ctx, "abort upload", func(ctx context.Context) error {
				_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.set.Bucket), Key: u.Key, UploadId: u.UploadId})
				return err
			})
			if err != nil {
				return n, s.wrap("abort upload of "+aws.ToString(u.Key), err)
			}
			n++
		}
	}
	return n, nil
}
