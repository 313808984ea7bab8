package promtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Builder writes OpenMetrics text of counters and histograms that grow by
// fixed amounts per step, so rates and quantiles are exact and known.
type Builder struct {
	From  time.Time     // the first sample
	Step  time.Duration // between samples; default 15s
	N     int           // samples per series; default 41 (10 minutes at 15s)
	order []string
	fams  map[string]*family
}

type family struct {
	typ   string
	lines []string
}

// Bucket is a histogram bucket's upper bound and its growth per step.
type Bucket struct {
	LE      float64
	PerStep float64
}

// NewBuilder starts series at from, every 15 s, 41 samples (10 minutes).
func NewBuilder(from time.Time) *Builder {
	return &Builder{From: from, Step: 15 * time.Second, N: 41, fams: map[string]*family{}}
}

// End is the time of the last sample: query at it for exact rate windows.
func (b *Builder) End() time.Time { return b.From.Add(time.Duration(b.N-1) * b.Step) }

func (b *Builder) fam(name, typ string) *family {
	f, ok := b.fams[name]
	if !ok {
		f = &family{typ: typ}
		b.fams[name] = f
		b.order = append(b.order, name)
	}
	return f
}

func (b *Builder) ts(i int) string {
	return strconv.FormatFloat(float64(b.From.Add(time.Duration(i)*b.Step).UnixMilli())/1000, 'f', 3, 64)
}

// Counter adds the series name_total{labels} growing by perStep each step.
// labels is the inside of the braces: `slot="green",code="200"`.
func (b *Builder) Counter(name, labels string, perStep float64) *Builder {
	f := b.fam(name, "counter")
	for i := 0; i < b.N; i++ {
		f.lines = append(f.lines, fmt.Sprintf("%s_total{%s} %s %s", name, labels, num(float64(i)*perStep), b.ts(i)))
	}
	return b
}

// Histogram adds name_bucket/_count/_sum{labels}; buckets grow by their own
// per-step amounts (not cumulative: the builder accumulates them) and +Inf
// is added. Each observation counts as its bucket's upper bound in _sum.
func (b *Builder) Histogram(name, labels string, buckets ...Bucket) *Builder {
	f := b.fam(name, "histogram")
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].LE < buckets[j].LE })
	var perStep, sumPerStep float64
	for _, bk := range buckets {
		perStep += bk.PerStep
		sumPerStep += bk.PerStep * bk.LE
	}
	sep := ","
	if labels == "" {
		sep = ""
	}
	for i := 0; i < b.N; i++ {
		cum := 0.0
		for _, bk := range buckets {
			cum += bk.PerStep
			f.lines = append(f.lines, fmt.Sprintf("%s_bucket{%s%sle=%q} %s %s", name, labels, sep, num(bk.LE), num(float64(i)*cum), b.ts(i)))
		}
		f.lines = append(f.lines,
			fmt.Sprintf("%s_bucket{%s%sle=\"+Inf\"} %s %s", name, labels, sep, num(float64(i)*perStep), b.ts(i)),
			fmt.Sprintf("%s_count{%s} %s %s", name, labels, num(float64(i)*perStep), b.ts(i)),
			fmt.Sprintf("%s_sum{%s} %s %s", name, labels, num(float64(i)*sumPerStep), b.ts(i)))
	}
	return b
}

// String is the OpenMetrics text, ending with # EOF.
func (b *Builder) String() string {
	var s strings.Builder
	for _, name := range b.order {
		f := b.fams[name]
		fmt.Fprintf(&s, "# TYPE %s %s\n", name, f.typ)
		for _, l := range f.lines {
			s.WriteString(l + "\n")
		}
	}
	s.WriteString("# EOF\n")
	return s.String()
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
