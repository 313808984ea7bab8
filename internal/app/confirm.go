package app

import (
	"fmt"
	"strings"

	"github.com/deployctl/deployctl/internal/ui"
)

// ConfirmationsText is `deployctl help confirmations`: the one rule every
// command that destroys something or moves traffic follows.
const ConfirmationsText = `How deployctl asks before it acts:

Every command that destroys something (backup restore, backup prune --apply,
migrate down, migrate redo, db promote) or, in a protected environment, moves
traffic (rollout, rollout promote, rollout abort, maintenance on/off) first
shows exactly what it will do: which backups, which migration, which
weights, in which environment. Then it asks:

  an ordinary environment     "Proceed? [y/N]"; --yes answers yes
  a protected environment     the environment's name must be typed;
                              --yes works only together with --confirm ENV

An environment is protected when its file says "protected: true" (deployctl
init writes it into environments/production.yaml). Without a terminal the
command does nothing and exits 2, naming the action and the flags it needs:

  deployctl -e production rollout promote --yes --confirm production

--dry-run never asks: it shows the plan and changes nothing.`

// Confirm asks before action (a few words: "delete 2 backups") after
// showing plan, its lines, exactly what will be done; traffic says the
// action only moves traffic, which asks in a protected environment only.
// See ConfirmationsText for the rule.
func (f *Factory) Confirm(action string, plan []string, traffic bool) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	env, protected := cfg.Env, cfg.Protected
	if c := f.Flags.Confirm; c != "" && c != env {
		return Usagef("--confirm %s does not match the environment %s: nothing was changed", c, env)
	}
	if !protected {
		if traffic || f.Flags.Yes {
			return nil
		}
	} else if f.Flags.Yes {
		if f.Flags.Confirm == env {
			return nil
		}
		return Usagef("%s in the protected environment %s: --yes needs --confirm %s as well; nothing was changed", action, env, env)
	}
	if !f.IO.StdinTTY {
		need := "--yes"
		if protected {
			need = "--yes --confirm " + env
		}
		return fmt.Errorf("%s in %s needs a confirmation and stdin is not a terminal: pass %s; nothing was changed: %w",
			action, env, need, errNoTerminal)
	}
	fmt.Fprintf(f.IO.ErrOut, "%s in %s:\n", capitalize(action), env)
	for _, l := range plan {
		fmt.Fprintf(f.IO.ErrOut, "  %s\n", l)
	}
	if protected {
		return f.IO.ConfirmTyped(env+" is a protected environment.", env, false)
	}
	return f.IO.Confirm("Proceed?", false)
}

// errNoTerminal marks the refusal for the exit code (2) without repeating
// ui.ErrNoTerminal's generic words.
var errNoTerminal = quietNoTerminal{}

type quietNoTerminal struct{}

func (quietNoTerminal) Error() string        { return "no terminal" }
func (quietNoTerminal) Is(target error) bool { return target == ui.ErrNoTerminal }

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
