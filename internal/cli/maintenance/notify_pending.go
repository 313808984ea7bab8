//go:build !mail

package maintenance

import (
	"context"
	"errors"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

func wireNotify(ctx context.Context, f *app.Factory, e *maintenance.Engine) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	e.NotifyTo = cfg.Maintenance.Notify.To
	if len(e.NotifyTo) > 0 {
		e.Notify = func(context.Context, string, string) error { return errors.New("email is not built in yet") }
	}
	return nil
}
