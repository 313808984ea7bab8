// Package proxy is `deployctl proxy`: the local traffic provider's data
// plane, a reverse proxy in front of the two slots.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
	lproxy "github.com/deployctl/deployctl/pkg/provider/local/proxy"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Options are the options of proxy.
type Options struct {
	IO        *ui.IOStreams
	Factory   *app.Factory
	Listen    string
	AccessLog bool
	Drain     time.Duration
	Poll      time.Duration
}

// NewCmdProxy returns the proxy command.
func NewCmdProxy(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "proxy",
		Short:   "Run the local reverse proxy in front of the blue and green slots",
		GroupID: "operate",
		Long: `Run the data plane of the local traffic provider: a reverse proxy in front of
traffic.local.slots that sends each request to blue or green by the current
weights (sticky per client with traffic.local.sticky), serves the maintenance
page while maintenance is on, and answers its own /-/health.

It reads its state from the environment's state folder and picks up every
change within a second; rollout and maintenance commands return only once it
has acknowledged their change. The weights survive a restart. SIGTERM or
Ctrl-C stops accepting connections and waits for requests in flight (--drain).`,
		Example: `  deployctl proxy
  deployctl proxy -e staging --listen 0.0.0.0:8080 --access-log > access.jsonl
  curl -s http://127.0.0.1:8080/-/health`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "address to listen on (default traffic.local.listen, 127.0.0.1:8080)")
	cmd.Flags().BoolVar(&opts.AccessLog, "access-log", false, "write a JSON access log line per request, with its request id, to stdout")
	cmd.Flags().DurationVar(&opts.Drain, "drain", 30*time.Second, "how long a stop waits for requests in flight")
	cmd.Flags().DurationVar(&opts.Poll, "poll", 50*time.Millisecond, "how often the state folder is checked for changes")
	return cmd
}

func (o *Options) validate() error {
	if o.Drain < 0 {
		return app.Usagef("invalid --drain %s: give a duration such as 30s", o.Drain)
	}
	if o.Poll <= 0 || o.Poll > time.Second {
		return app.Usagef("invalid --poll %s: give a duration from 1ms to 1s", o.Poll)
	}
	return nil
}

func run(ctx context.Context, opts *Options) error {
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	srv, listen, err := newServer(cfg, opts)
	if err != nil {
		return err
	}
	// The proxy's garbage is short-lived request state; collecting less often
	// buys throughput for a few MB of memory.
	debug.SetGCPercent(400)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; choose another address with --listen or traffic.local.listen", listen, err)
	}
	opts.IO.Printf("proxy for %s listening on http://%s (blue → %s, green → %s); state in %s\n",
		cfg.Env, ln.Addr(), srv.Slots[provider.Blue], srv.Slots[provider.Green], srv.Paths.Root)
	if err := srv.Run(ctx, ln); err != nil {
		return err
	}
	opts.IO.Printf("proxy stopped; requests in flight were served\n")
	return nil
}

func newServer(cfg *config.Loaded, opts *Options) (*lproxy.Server, string, error) {
	if cfg.Traffic.Provider != "local" {
		return nil, "", &config.Error{Msg: fmt.Sprintf("deployctl proxy is the data plane of the local traffic provider; environment %s uses %q", cfg.Env, cfg.Traffic.Provider)}
	}
	settings, urls, err := lproxy.DecodeSettings(func(t any) error { return cfg.Decode("traffic.local", t) })
	if err != nil {
		return nil, "", &config.Error{Msg: fmt.Sprintf("%s: %v", cfg.File, err)}
	}
	loops, _ := lproxy.ParseEventLoops(settings.EventLoops) // checked by DecodeSettings
	pg, err := maintenancePage(cfg, opts.IO)
	if err != nil {
		return nil, "", err
	}
	srv := &lproxy.Server{
		Paths: lproxy.Paths{Root: statefs.Root(cfg.Path(cfg.State.Dir), cfg.Env)}, Slots: urls, Sticky: settings.Sticky, StandardPath: !settings.FastPath, EventLoops: loops,
		Limits:      settings.Limits,
		Maintenance: pg.Wrap, Log: proxyLogger(opts.Factory), Poll: opts.Poll, Drain: opts.Drain,
	}
	if opts.AccessLog {
		srv.AccessLog = opts.IO.Out
	}
	listen := opts.Listen
	if listen == "" {
		listen = settings.Listen
	}
	return srv, listen, nil
}

// maintenancePage loads maintenance.page, or the built-in page when the
// configured file does not exist.
func maintenancePage(cfg *config.Loaded, io *ui.IOStreams) (*page.Page, error) {
	path := cfg.Path(cfg.Maintenance.Page)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		io.Printf("note: maintenance page %s not found; using the built-in page (deployctl init writes one)\n", path)
		path = ""
	}
	pg, err := page.New(path, []string{cfg.Health.Path, cfg.Health.ReadinessPath})
	if err != nil {
		return nil, &config.Error{Msg: err.Error()}
	}
	return pg, nil
}

// proxyLogger is the proxy's own log on stderr: its events at info (debug
// with -v), text unless --log-format json.
func proxyLogger(f *app.Factory) *slog.Logger {
	level := slog.LevelInfo
	if f.Flags.Verbose {
		level = slog.LevelDebug
	}
	return f.NewLogger(level)
}
