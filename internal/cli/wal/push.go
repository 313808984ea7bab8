package wal

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/wal"
)

// PushOptions are the options of wal push.
type PushOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Path    string
	// Background: this is the process a push started to archive the
	// files after Path (hidden --background).
	Background bool
}

// NewCmdPush returns wal push.
func NewCmdPush(f *app.Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "push PATH",
		Short: "Archive one WAL file (PostgreSQL's archive_command, %p)",
		Long: `Archive the WAL file at PATH (relative to the working folder, which is the data
folder when PostgreSQL runs it) into the backup storage. Pushing a file that is
archived already with the same content succeeds; with other content it fails
naming both checksums and never overwrites. Exit 4 when the storage cannot be
reached: PostgreSQL keeps the file and retries.

A push also archives up to backup.wal.push_ahead (8) more files that PostgreSQL
has ready after PATH, backup.wal.parallel (2) at a time, and leaves a marker for
each in backup.wal.spool (~/.cache/deployctl/wal-spool): when PostgreSQL asks for
one of them, the push finds its marker and returns at once, so that a backlog
drains at the speed of the cores, not of one archive_command after another.
The files after PATH are archived by a process of its own in the background
(pgBackRest's archive-async): the push returns as soon as PATH is archived.`,
		Example: "  archive_command = 'deployctl --config-dir /srv/app/environments --env production wal push %p'",
		Args:    app.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Background, "background", false, "archive the ready files after PATH (the process a push starts)")
	_ = cmd.Flags().MarkHidden("background")
	return cmd
}

func pushRun(ctx context.Context, opts *PushOptions) error {
	a, err := archive(ctx, opts.Factory, false)
	if err != nil {
		return err
	}
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	w := cfg.Backup.WAL
	if w.PushAhead < 0 || w.Parallel < 1 {
		return &config.Error{Msg: fmt.Sprintf("backup.wal: push_ahead %d must be 0 or more and parallel %d 1 or more", w.PushAhead, w.Parallel)}
	}
	ahead := wal.Ahead{Max: w.PushAhead, Workers: w.Parallel, Spool: cfg.Path(w.Spool)}
	if w.Spool == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			ahead.Spool = filepath.Join(dir, "deployctl", "wal-spool")
		}
	}
	if opts.Background {
		if os.Getenv(heldLockEnv) == "3" {
			ahead.Held = os.NewFile(3, "push.lock")
		}
		return a.PushAheadOf(ctx, opts.Path, ahead)
	}
	ahead.Background = background
	return a.PushReady(ctx, opts.Path, ahead)
}

// heldLockEnv tells the process in the background that its fd 3 is the
// spool's lock, held for it by the push that started it.
const heldLockEnv = "DEPLOYCTL_WAL_PUSH_LOCK_FD"

// background starts this very command again with --background, in a
// session of its own and with no terminal or pipe of PostgreSQL's, and does
// not wait for it: the archiver waits only for the push it started.
func background(_ string, held *os.File) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, append(os.Args[1:], "--background")...)
	cmd.SysProcAttr = detached()
	cmd.ExtraFiles = []*os.File{held} // fd 3: the spool's lock, held
	cmd.Env = append(os.Environ(), heldLockEnv+"=3")
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}
