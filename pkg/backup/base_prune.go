package backup

import "strings"

// KeptByBase names the rules that keep base backups: the newest one, and
// the newest one verified at level restore (a scratch server recovered it),
// whatever newer logical backups there are. Point-in-time restore starts
// from a base backup, so the logical backups' rules never leave none.
const (
	KeptByNewestBase   = "newest-base"
	KeptByVerifiedBase = "verified-base"
)

func (p *PrunePlan) keepBase(c *Catalog) {
	newest := true
	for i, m := range c.Backups {
		if m.Kind() != TypeBase {
			continue
		}
		if newest {
			p.keep(i, KeptByNewestBase, "newest base backup")
			newest = false
		}
		if v := m.Verification; v != nil && v.OK && v.Level == LevelRestore {
			p.keep(i, KeptByVerifiedBase, "newest verified base backup (restore)")
			return
		}
	}
}

// orphanType guesses the type of an interrupted create from its objects;
// "" when it cannot tell.
func orphanType(o Orphan) string {
	for _, name := range o.Objects {
		switch {
		case strings.Contains(name, "/"+BaseObject):
			return TypeBase
		case strings.Contains(name, "/"+DumpObject):
			return TypeLogical
		}
	}
	return ""
}

// OfType is c with only the backups of type t (TypeLogical or TypeBase);
// folders without a readable manifest stay, whatever their type. "" is c.
func (c *Catalog) OfType(t string) *Catalog {
	if t == "" {
		return c
	}
	out := &Catalog{Broken: c.Broken}
	for _, o := range c.Orphans {
		if orphanType(o) == "" || orphanType(o) == t {
			out.Orphans = append(out.Orphans, o)
		}
	}
	for _, m := range c.Backups {
		if m.Kind() == t {
			out.Backups = append(out.Backups, m)
		}
	}
	return out
}
