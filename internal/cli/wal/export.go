package wal

import (
	"context"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/wal"
)

// Verify is `wal verify --max-age maxAge` for another command (the
// checklist's backups item): archived is false when the storage holds no
// WAL archive at all (archiving is not configured).
func Verify(ctx context.Context, f *app.Factory, maxAge time.Duration) (archived bool, rep *wal.VerifyReport, err error) {
	a, err := archive(ctx, f, false)
	if err != nil {
		return false, nil, err
	}
	objs, err := a.Store.List(ctx, "wal/")
	if err != nil || len(objs) == 0 {
		return false, nil, err
	}
	start, err := oldestBaseStart(ctx, a)
	if err != nil {
		return true, nil, err
	}
	rep, err = a.Verify(ctx, wal.VerifyOptions{Start: start, MaxAge: maxAge})
	return true, rep, err
}
