package release

import (
	"context"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/backup"
	"github.com/deployctl/deployctl/internal/cli/checklist"
	"github.com/deployctl/deployctl/internal/cli/migrate"
	"github.com/deployctl/deployctl/internal/cli/rollout"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/proxy"
	"github.com/deployctl/deployctl/pkg/release"
	pkgrollout "github.com/deployctl/deployctl/pkg/rollout"
)

// The release's engines, each built on the environment's providers when a
// step needs it: by then the release holds the lock and lends it to them
// (app.Factory.HoldingLocker).

func deps(f *app.Factory) release.Deps {
	return release.Deps{
		Checklist: gate{f}, Backups: backups{f}, Migrations: migrations{f},
		Slots: slots{f}, Traffic: &traffic{f: f},
	}
}

type gate struct{ f *app.Factory }

func (g gate) Gate(ctx context.Context, only, skip []string) ([]string, string, error) {
	return checklist.Gate(ctx, g.f, only, skip)
}

type backups struct{ f *app.Factory }

func (b backups) Create(ctx context.Context, label string) (string, error) {
	return backup.Create(ctx, b.f, label)
}
func (b backups) Verify(ctx context.Context, id, level string) ([]string, error) {
	return backup.Verify(ctx, b.f, id, level)
}

type migrations struct{ f *app.Factory }

func (m migrations) Current(ctx context.Context) (int64, error)   { return migrate.Current(ctx, m.f) }
func (m migrations) Pending(ctx context.Context) ([]int64, error) { return migrate.Pending(ctx, m.f) }
func (m migrations) Rehearse(ctx context.Context, id string) error {
	return migrate.Rehearse(ctx, m.f, id)
}
func (m migrations) Up(ctx context.Context) (int64, error) { return migrate.Up(ctx, m.f) }

type slots struct{ f *app.Factory }

func (s slots) Prepare(ctx context.Context, slot provider.Slot, image, url string) error {
	router, err := s.f.Traffic(ctx)
	if err != nil {
		return err
	}
	switch {
	case image != "":
		is, ok := router.(provider.ImageSetter)
		if !ok {
			return fmt.Errorf("--image: %w, which does not run the slots; deploy the new version to the %s slot yourself, then release without --image", provider.ErrUnsupported, slot)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return is.SetImage(ctx, slot, image)
	case url != "":
		if us, ok := router.(provider.SlotURLSetter); ok { // local: the proxy sends the slot's traffic there
			return us.SetSlotURL(ctx, slot, url)
		}
		cfg, err := s.f.Config()
		if err != nil {
			return err
		}
		if configured := slotURL(cfg, slot); configured != "" && configured != url {
			return &config.Error{Msg: fmt.Sprintf("--slot-url %s: the %s traffic provider sends the %s slot's traffic to %s (traffic.%s.slots.%s.url); start the new version there, or change that setting and restart the proxy",
				url, cfg.Traffic.Provider, slot, configured, cfg.Traffic.Provider, slot)}
		}
	}
	return nil
}

func (s slots) Status(ctx context.Context, slot provider.Slot) (provider.SlotStatus, error) {
	router, err := s.f.Traffic(ctx)
	if err != nil {
		return provider.SlotStatus{}, err
	}
	return router.Slot(ctx, slot)
}

var _ release.SlotURLs = slots{}

// URL is the URL the local proxy sends slot's traffic to (its ack, its
// state, its setting); "" on the providers whose slots are not URLs.
func (s slots) URL(ctx context.Context, slot provider.Slot) (string, error) {
	router, err := s.f.Traffic(ctx)
	if err != nil {
		return "", err
	}
	if pr, ok := router.(*proxy.Router); ok {
		return pr.ServedURL(ctx, slot)
	}
	return "", nil
}

// Probe is the local proxy's readiness check of slot at base, before the
// slot is pointed there.
func (s slots) Probe(ctx context.Context, slot provider.Slot, base string) (provider.SlotStatus, error) {
	router, err := s.f.Traffic(ctx)
	if err != nil {
		return provider.SlotStatus{Slot: slot}, err
	}
	pr, ok := router.(*proxy.Router)
	if !ok {
		return provider.SlotStatus{Slot: slot}, fmt.Errorf("the %s slot's URL: %w", slot, provider.ErrUnsupported)
	}
	return pr.ProbeAt(ctx, slot, base)
}

// slotURL is traffic.<provider>.slots.<slot>.url, when the provider has it.
func slotURL(cfg *config.Loaded, slot provider.Slot) string {
	var s struct {
		Slots map[string]struct {
			URL string `mapstructure:"url"`
		} `mapstructure:"slots"`
	}
	if err := cfg.Decode("traffic."+cfg.Traffic.Provider, &s); err != nil {
		return ""
	}
	return s.Slots[string(slot)].URL
}

type traffic struct{ f *app.Factory }

func (t *traffic) State(ctx context.Context) (pkgrollout.State, error) {
	st, err := t.f.State(ctx)
	if err != nil {
		return pkgrollout.State{}, err
	}
	return pkgrollout.LoadState(ctx, st)
}

func (t *traffic) Weights(ctx context.Context) (provider.Weights, error) {
	router, err := t.f.Traffic(ctx)
	if err != nil {
		return nil, err
	}
	return router.Weights(ctx)
}

func (t *traffic) run(ctx context.Context, r pkgrollout.Request, analyse bool) (*pkgrollout.Result, error) {
	e, err := rollout.NewEngine(ctx, t.f, r.Command, analyse)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, r)
}

func (t *traffic) Step(ctx context.Context, slot provider.Slot, weight int, interval time.Duration, analyse bool) (*pkgrollout.StepReport, error) {
	r := pkgrollout.Request{Op: pkgrollout.OpWeight, Slot: slot, Weight: weight, Command: fmt.Sprintf("release: rollout %s --weight %d", slot, weight), Reason: t.f.Flags.Reason}
	if analyse {
		r.Steps, r.Interval, r.Command = []int{weight}, interval, fmt.Sprintf("release: rollout %s --steps %d", slot, weight)
	}
	res, err := t.run(ctx, r, analyse)
	if res != nil && len(res.Reports) > 0 {
		rep := res.Reports[len(res.Reports)-1]
		return &rep, err
	}
	return nil, err
}

func (t *traffic) Promote(ctx context.Context) error {
	_, err := t.run(ctx, pkgrollout.Request{Op: pkgrollout.OpPromote, Command: "release: rollout promote", Reason: t.f.Flags.Reason}, false)
	return err
}

func (t *traffic) Abort(ctx context.Context) error {
	_, err := t.run(ctx, pkgrollout.Request{Op: pkgrollout.OpAbort, Command: "release: rollout abort", Reason: t.f.Flags.Reason}, false)
	return err
}
