// Package root assembles deployctl's command tree.
package root

import (
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/debuglog"
)

// NewCmdRoot returns the deployctl command with every command group.
func NewCmdRoot(f *app.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployctl <command>",
		Short: "Release and run a web API backed by PostgreSQL",
		Long: `deployctl releases and runs a web API backed by PostgreSQL across development,
staging and production: it validates variables, migrates the database, checks the
production checklist, shifts traffic blue-green, takes and proves backups, and
runs maintenance windows. It says what it will do, does it, and proves it worked.`,
		Example: `  deployctl init
  deployctl env validate --env production --file .env.production
  deployctl migrate up
  deployctl rollout green --weight 10 --reason "release 1.4"
  deployctl backup verify latest --max-age 26h`,
		Version:       app.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if f.Flags.Verbose { // -v: what the providers do, through the command's log
				debuglog.Set(f.Logger())
				http.DefaultTransport = debuglog.Transport(http.DefaultTransport)
			}
			if !cmd.Flags().Changed("config-dir") && os.Getenv("DEPLOYCTL_CONFIG_DIR") == "" {
				f.Flags.ConfigDir = config.FindDir(f.Flags.ConfigDir) // from a sub-folder of the project too
			}
			return checkGlobals(f)
		},
	}
	cmd.SetFlagErrorFunc(app.FlagError)
	cmd.SetVersionTemplate(versionLine() + "\n")
	addGlobalFlags(cmd, f)
	cmd.AddGroup(&cobra.Group{ID: "release", Title: "Release:"}, &cobra.Group{ID: "operate", Title: "Operate:"})
	for _, c := range commands(f) {
		cmd.AddCommand(c)
	}
	cmd.AddCommand(newCmdVersion(f), newCmdExitCodes(), newCmdConfirmations())
	hideChangingFlags(cmd)
	return cmd
}

// readOnly are the commands that change nothing: their --help does not
// offer the flags of changing commands.
var readOnly = map[string]bool{
	"deployctl version": true, "deployctl history": true, "deployctl status": true,
	"deployctl rollout status": true, "deployctl rollout history": true,
	"deployctl backup list": true, "deployctl maintenance status": true, "deployctl maintenance list": true,
	"deployctl migrate status": true, "deployctl migrate plan": true, "deployctl migrate validate": true,
	"deployctl env validate": true, "deployctl env show": true, "deployctl env diff": true, "deployctl env keys": true,
	"deployctl db status": true,
}

// changingFlags are the global flags only a changing command reads.
var changingFlags = []string{"dry-run", "yes", "confirm", "reason"}

// hideChangingFlags gives the read-only commands a help without
// changingFlags; the flags still parse (a script that passes --reason to
// every command keeps working).
func hideChangingFlags(root *cobra.Command) {
	help := root.HelpFunc()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if readOnly[c.CommandPath()] {
			c.SetHelpFunc(func(c *cobra.Command, args []string) {
				for _, name := range changingFlags {
					if fl := root.PersistentFlags().Lookup(name); fl != nil {
						fl.Hidden = true
						defer func() { fl.Hidden = false }()
					}
				}
				help(c, args)
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func addGlobalFlags(cmd *cobra.Command, f *app.Factory) {
	g := f.Flags
	pf := cmd.PersistentFlags()
	pf.StringVarP(&g.Env, "env", "e", envDefault("DEPLOYCTL_ENV", "development"), "environment, read from <config-dir>/NAME.yaml ($DEPLOYCTL_ENV)")
	pf.StringVar(&g.ConfigDir, "config-dir", envDefault("DEPLOYCTL_CONFIG_DIR", "environments"), "folder of the environment files ($DEPLOYCTL_CONFIG_DIR)")
	pf.StringVarP(&g.Output, "output", "o", "table", "output format: table|json")
	pf.BoolVarP(&g.Yes, "yes", "y", false, "confirm destructive actions without asking")
	pf.StringVar(&g.Confirm, "confirm", "", "with --yes in a protected environment: its name (see deployctl help confirmations)")
	pf.BoolVar(&g.DryRun, "dry-run", false, "print the plan and change nothing")
	pf.StringVar(&g.Reason, "reason", "", "why: recorded in the history with the actor ($DEPLOYCTL_ACTOR)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "debug logs on stderr")
	pf.StringVar(&g.LogFormat, "log-format", "text", "log format: text|json")
	pf.StringVar(&g.Kubeconfig, "kubeconfig", "", "kubeconfig file of the kubernetes providers (overrides traffic.kubernetes.kubeconfig)")
	pf.StringVar(&g.KubeContext, "context", "", "kubeconfig context of the kubernetes providers (overrides traffic.kubernetes.context)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "junit"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("env", completeEnvs(f))
}

func envDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func checkGlobals(f *app.Factory) error {
	g := f.Flags
	switch g.Output {
	case "table", "json", "junit":
	default:
		return app.Usagef("invalid --output %q: use table or json", g.Output)
	}
	switch g.LogFormat {
	case "text", "json":
	default:
		return app.Usagef("invalid --log-format %q: use text or json", g.LogFormat)
	}
	return nil
}

func versionLine() string {
	b := app.BuildInfo()
	commit := b.Commit
	if b.Modified {
		commit += ", with local changes"
	}
	return fmt.Sprintf("deployctl %s (commit %s, built %s, %s)", b.Version, commit, b.Date, b.Go)
}
