package root

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
)

func newCmdVersion(f *app.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of deployctl",
		Example: "  deployctl version\n  deployctl version -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.Flags.JSON() {
				return f.IO.JSON(app.BuildInfo())
			}
			_, err := fmt.Fprintln(f.IO.Out, versionLine())
			return err
		},
	}
}

// ExitCodesText is `deployctl help exit-codes`.
const ExitCodesText = `Exit codes of deployctl:

  0    ok
  1    the operation ran and failed or found problems (invalid variables, failed
       check, failed verify, rollout aborted by a gate)
  2    usage or configuration error (bad flag or argument, unknown environment,
       malformed file, a destructive action without --yes and without a terminal)
  3    another operator holds the environment's lock (the message names the
       holder, since when, and the reason)
  4    a dependency could not be reached (database, cluster, bucket, Prometheus, SMTP)
  130  interrupted (Ctrl-C or SIGTERM); state is left consistent
`

func newCmdExitCodes() *cobra.Command {
	return &cobra.Command{
		Use:   "exit-codes",
		Short: "The exit codes of deployctl and what they mean",
		Long:  ExitCodesText,
	}
}

func completeEnvs(f *app.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return config.Environments(f.Flags.ConfigDir), cobra.ShellCompDirectiveNoFileComp
	}
}

func newCmdConfirmations() *cobra.Command {
	return &cobra.Command{
		Use:   "confirmations",
		Short: "How deployctl asks before it destroys something or moves traffic",
		Long:  app.ConfirmationsText,
	}
}
