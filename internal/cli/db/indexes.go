package db

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dbindex"
	"github.com/deployctl/deployctl/pkg/postgres"
)

// Percent is a --min-bloat flag: 0 to 100, with or without a % sign.
type Percent float64

func (p *Percent) String() string { return strconv.FormatFloat(float64(*p), 'f', -1, 64) + "%" }
func (p *Percent) Type() string   { return "percent" }

// Set rejects anything but a percentage from 0 to 100 while parsing.
func (p *Percent) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return fmt.Errorf("%q is not a percentage from 0 to 100 (e.g. 30%%)", s)
	}
	*p = Percent(v)
	return nil
}

// IndexesOptions are the options of db indexes.
type IndexesOptions struct {
	IO       *ui.IOStreams
	Factory  *app.Factory
	Flags    *Flags
	MinBloat Percent
}

// NewCmdIndexes returns db indexes.
func NewCmdIndexes(f *app.Factory, fl *Flags, runF func(*IndexesOptions) error) *cobra.Command {
	opts := &IndexesOptions{IO: f.IO, Factory: f, Flags: fl, MinBloat: 20}
	cmd := &cobra.Command{
		Use:   "indexes",
		Short: "List bloated, unused, duplicate, overlapping and invalid indexes (read-only)",
		Long: `Look at every index of the environment's database and list those that need care:

  bloated      btree indexes of 1 MiB or more whose bloat is --min-bloat or more:
               measured with pgstattuple's pgstatindex when the extension is
               installed (METHOD pgstattuple), else estimated from the catalog
               and the planner statistics (METHOD estimate, ioguix's estimator)
  unused       no scan since the statistics were last reset (pg_stat_user_indexes);
               indexes behind primary key, unique or exclusion constraints and
               unique indexes are never listed
  duplicate    same table, columns or expressions, predicate, operator classes
               as another index, which is named (the constraint's, else the
               unique, else the oldest one is kept)
  overlapping  a plain btree index whose columns are a leading prefix of another's
  invalid      indisvalid false: a failed CREATE INDEX CONCURRENTLY, or a
               REINDEX CONCURRENTLY leftover (…_ccnew, …_ccold)

Nothing is changed. Exit 0 whenever the database could be read (the list is
advice); 4 when it cannot be reached. Rebuild the bloated ones with
deployctl db reindex.`,
		Example: `  deployctl db indexes -e production
  deployctl db indexes --min-bloat 50%
  deployctl db indexes -o json | jq '.unused[].index'`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return indexesRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&opts.MinBloat, "min-bloat", "list btree indexes with at least this bloat, 0 to 100%")
	return cmd
}

func indexesRun(ctx context.Context, opts *IndexesOptions) error {
	r, err := inspect(ctx, opts.Factory, opts.Flags, float64(opts.MinBloat))
	if err != nil {
		return err
	}
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(r)
	}
	return renderIndexes(opts.IO, r, float64(opts.MinBloat))
}

// inspect reads the environment's database's indexes.
func inspect(ctx context.Context, f *app.Factory, fl *Flags, minBloat float64) (*dbindex.Report, error) {
	url, err := f.DatabaseURL(ctx, fl.DatabaseURL)
	if err != nil {
		return nil, err
	}
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return dbindex.Inspect(ctx, conn, minBloat)
}

func renderIndexes(io *ui.IOStreams, r *dbindex.Report, minBloat float64) error {
	io.Printf("database %s: %s; %s\n", r.Database, statsSince(r.StatsReset), bloatMethod(r.Pgstattuple))
	tb := io.NewTable("KIND", "INDEX", "TABLE", "SIZE", "DETAIL")
	for _, b := range r.Bloated {
		tb.Row("bloated", b.Label(), b.Table, ui.HumanBytes(b.SizeBytes), fmt.Sprintf("%.1f%% bloat (%s), %s", b.BloatPercent, ui.HumanBytes(b.BloatBytes), b.BloatMethod))
	}
	for _, ix := range r.Unused {
		tb.Row("unused", ix.Label(), ix.Table, ui.HumanBytes(ix.SizeBytes), "no scans "+statsSince(r.StatsReset))
	}
	for _, d := range r.Duplicate {
		tb.Row("duplicate", d.Label(), d.Table, ui.HumanBytes(d.SizeBytes), "same as "+d.CoveredBy)
	}
	for _, o := range r.Overlapping {
		tb.Row("overlapping", o.Label(), o.Table, ui.HumanBytes(o.SizeBytes), "a prefix of "+o.CoveredBy)
	}
	for _, iv := range r.Invalid {
		tb.Row("invalid", iv.Label(), iv.Table, ui.HumanBytes(iv.SizeBytes), invalidDetail(iv))
	}
	if tb.Len() == 0 {
		fmt.Fprintf(io.Out, "no index needs care (bloat below %g%%)\n", minBloat)
	} else if err := tb.Render(io.Out); err != nil {
		return err
	}
	hints(io, r)
	return nil
}

func statsSince(reset *time.Time) string {
	if reset == nil {
		return "since the statistics began (never reset)"
	}
	return "since the statistics reset at " + reset.UTC().Format(time.RFC3339)
}

func bloatMethod(pgstattuple bool) string {
	if pgstattuple {
		return "bloat measured with pgstattuple"
	}
	return "bloat estimated from statistics (CREATE EXTENSION pgstattuple to measure it)"
}

func invalidDetail(iv dbindex.Invalid) string {
	switch {
	case iv.InProgress:
		return "being built right now (CREATE INDEX CONCURRENTLY in progress)"
	case iv.Leftover:
		return "left by an interrupted REINDEX CONCURRENTLY: DROP INDEX CONCURRENTLY " + iv.Qualified()
	}
	return "a failed CREATE INDEX CONCURRENTLY: DROP INDEX CONCURRENTLY " + iv.Qualified() + ", fix the cause, create it again"
}

func hints(io *ui.IOStreams, r *dbindex.Report) {
	if n := len(r.NoStatistics); n > 0 {
		io.Printf("note: %d btree index(es) have no statistics to estimate bloat from (%s): ANALYZE their tables\n", n, strings.Join(r.NoStatistics, ", "))
	}
	if len(r.Duplicate)+len(r.Overlapping)+len(r.Unused) > 0 {
		io.Printf("note: check a replica's statistics too before dropping an unused index; drop with DROP INDEX CONCURRENTLY (in a migration)\n")
	}
	if len(r.Bloated) > 0 {
		io.Printf("note: deployctl db reindex shows the rebuild plan; --apply rebuilds\n")
	}
}
