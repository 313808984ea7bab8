package migrate

import (
	"context"
	"fmt"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// Exported for another command (release): the environment's migrations
// seen as current version, pending versions, a rehearsal on a backup and up.

// Current is the database's migration version.
func Current(ctx context.Context, f *app.Factory) (int64, error) {
	db, err := open(ctx, f, &DBFlags{}, "release")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	st, err := db.ReadState(ctx)
	if err != nil {
		return 0, err
	}
	return st.Current(), nil
}

// Pending lists the versions up would apply.
func Pending(ctx context.Context, f *app.Factory) ([]int64, error) {
	_, migs, err := load(f, &DBFlags{})
	if err != nil {
		return nil, err
	}
	db, err := open(ctx, f, &DBFlags{}, "release")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := db.ReadState(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := migrate.PendingUpTo(migs, st, 0)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(pending))
	for i, m := range pending {
		out[i] = m.Version
	}
	return out, nil
}

// Rehearse rehearses the pending migrations on a scratch copy restored from
// backup id and saves the rehearsal, which the checklist reads.
func Rehearse(ctx context.Context, f *app.Factory, id string) error {
	d, migs, err := load(f, &DBFlags{})
	if err != nil {
		return err
	}
	url, err := f.DatabaseURL(ctx, "")
	if err != nil {
		return err
	}
	store, err := f.State(ctx)
	if err != nil {
		return err
	}
	r := &migrate.Rehearser{URL: url, Dir: d, Migrations: migs, Now: f.Now,
		AppName: migrate.AppName(f.Holder("release rehearse")), History: f.Recorder(),
		Notef: func(format string, a ...any) { f.IO.Printf(format, a...) }}
	if r.Fill, err = fromBackup(ctx, f, id); err != nil {
		return err
	}
	reh, err := r.Run(ctx)
	if err != nil {
		return err
	}
	if err := migrate.SaveRehearsal(ctx, store, reh); err != nil {
		return fmt.Errorf("save the rehearsal: %w", err)
	}
	if !reh.OK {
		return fmt.Errorf("the rehearsal failed: run `deployctl migrate rehearse --from-backup %s` to see each migration", id)
	}
	return nil
}

// Up applies the pending migrations and returns the version reached.
func Up(ctx context.Context, f *app.Factory) (int64, error) {
	e, err := engine(ctx, f, &DBFlags{}, "release: migrate up", migrate.DefaultLockTimeout)
	if err != nil {
		return 0, err
	}
	defer e.DB.Close()
	res, err := e.Up(ctx, migrate.UpOptions{})
	if err != nil {
		return 0, err
	}
	return res.To, nil
}
