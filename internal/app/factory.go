// Package app builds what commands depend on, lazily, and turns their errors
// into exit codes. Main is the whole life of the process.
package app

import (
	"log/slog"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Version is stamped by the release build (-ldflags -X).
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)

// GlobalFlags are the flags of every command.
type GlobalFlags struct {
	Env       string
	ConfigDir string
	Output    string // table | json (junit where a command offers it)
	Yes       bool
	Confirm   string // --confirm ENV: with --yes in a protected environment
	DryRun    bool
	Reason    string
	Verbose   bool
	LogFormat string
	// Kubeconfig and KubeContext are --kubeconfig and --context, as
	// kubectl's: they override traffic.kubernetes.kubeconfig and .context.
	Kubeconfig, KubeContext string
}

// JSON reports whether -o json was asked for.
func (g *GlobalFlags) JSON() bool { return g.Output == "json" }

// Factory holds the dependencies of commands; each is built on first use.
type Factory struct {
	IO       *ui.IOStreams
	Flags    *GlobalFlags
	Environ  func() []string
	Now      func() time.Time
	Registry *provider.Registry

	cfgOnce sync.Once
	cfg     *config.Loaded
	cfgErr  error
	logger  *slog.Logger

	recorder *history.Recorder
}

// NewFactory returns a factory on the process's streams and environment.
func NewFactory(reg *provider.Registry) *Factory {
	return &Factory{
		IO:       ui.System(),
		Flags:    &GlobalFlags{},
		Environ:  os.Environ,
		Now:      time.Now,
		Registry: reg,
	}
}

// Config loads the environment's configuration once, printing its warnings.
func (f *Factory) Config() (*config.Loaded, error) {
	f.cfgOnce.Do(func() {
		f.cfg, f.cfgErr = config.Load(config.Options{Env: f.Flags.Env, Dir: f.Flags.ConfigDir, Environ: f.configEnviron(), Providers: f.Registry})
		if f.cfgErr == nil {
			for _, w := range f.cfg.Warnings {
				f.IO.Warnf("%s", w)
			}
		}
	})
	return f.cfg, f.cfgErr
}

// Actor is who runs the command: $DEPLOYCTL_ACTOR, else the OS user.
func (f *Factory) Actor() string {
	for _, kv := range f.Environ() {
		if len(kv) > len("DEPLOYCTL_ACTOR=") && kv[:len("DEPLOYCTL_ACTOR=")] == "DEPLOYCTL_ACTOR=" {
			return kv[len("DEPLOYCTL_ACTOR="):]
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// Holder describes this process as a lock holder for command.
func (f *Factory) Holder(command string) provider.Holder {
	host, _ := os.Hostname()
	return provider.Holder{Actor: f.Actor(), Host: host, PID: os.Getpid(), Command: command, Reason: f.Flags.Reason, Since: f.Now().UTC()}
}

// Logger writes debug logs to stderr when --verbose, JSON with --log-format json.
func (f *Factory) Logger() *slog.Logger {
	if f.logger == nil {
		level := slog.LevelWarn
		if f.Flags.Verbose {
			level = slog.LevelDebug
		}
		f.logger = f.NewLogger(level)
	}
	return f.logger
}

// NewLogger is a logger to stderr at level in the --log-format (text
// unless json), for a command that logs as a service does (the proxy).
func (f *Factory) NewLogger(level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f.Flags.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(f.IO.ErrOut, opts))
	}
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, opts))
}

// configEnviron is the environment the configuration is read with: the
// process's, with the overrides of --kubeconfig and --context last (the
// flags win over DEPLOYCTL_ variables, as a flag does).
func (f *Factory) configEnviron() []string {
	env := f.Environ()
	if f.Flags.Kubeconfig != "" {
		env = append(env, config.EnvName("traffic.kubernetes.kubeconfig")+"="+f.Flags.Kubeconfig)
	}
	if f.Flags.KubeContext != "" {
		env = append(env, config.EnvName("traffic.kubernetes.context")+"="+f.Flags.KubeContext)
	}
	return env
}
