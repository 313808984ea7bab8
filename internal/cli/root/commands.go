package root

import (
	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/backup"
	"github.com/deployctl/deployctl/internal/cli/checklist"
	"github.com/deployctl/deployctl/internal/cli/db"
	"github.com/deployctl/deployctl/internal/cli/dns"
	"github.com/deployctl/deployctl/internal/cli/env"
	"github.com/deployctl/deployctl/internal/cli/health"
	"github.com/deployctl/deployctl/internal/cli/history"
	"github.com/deployctl/deployctl/internal/cli/initcmd"
	"github.com/deployctl/deployctl/internal/cli/maintenance"
	"github.com/deployctl/deployctl/internal/cli/migrate"
	"github.com/deployctl/deployctl/internal/cli/proxy"
	"github.com/deployctl/deployctl/internal/cli/release"
	"github.com/deployctl/deployctl/internal/cli/render"
	"github.com/deployctl/deployctl/internal/cli/rollout"
	"github.com/deployctl/deployctl/internal/cli/status"
	"github.com/deployctl/deployctl/internal/cli/wal"
)

// commands lists the command groups, one line each.
func commands(f *app.Factory) []*cobra.Command {
	return []*cobra.Command{
		// command groups are added here, one line each, as they land
		initcmd.NewCmdInit(f, nil),
		env.NewCmdEnv(f),
		backup.NewCmdBackup(f),
		checklist.NewCmdChecklist(f, nil),
		history.NewCmdHistory(f, nil),
		maintenance.NewCmdMaintenance(f),
		migrate.NewCmdMigrate(f),
		render.NewCmdRender(f, nil),
		rollout.NewCmdRollout(f),
		proxy.NewCmdProxy(f, nil),
		health.NewCmdHealth(f, nil),
		db.NewCmdDB(f),
		dns.NewCmdDNS(f),
		status.NewCmdStatus(f, nil),
		release.NewCmdRelease(f, nil), release.NewCmdReleases(f), release.NewCmdRollback(f),
		wal.NewCmdWAL(f),
	}
}
