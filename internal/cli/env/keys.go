package env

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
)

// KeysOptions are the inputs of `env keys`.
type KeysOptions struct {
	IO *ui.IOStreams

	f *app.Factory
}

// NewCmdKeys is `env keys`.
func NewCmdKeys(f *app.Factory, runF func(*KeysOptions) error) *cobra.Command {
	opts := &KeysOptions{IO: f.IO, f: f}
	return &cobra.Command{
		Use:   "keys",
		Short: "List every configuration key and the DEPLOYCTL_ variable that overrides it",
		Long: `List every key an environment file (environments/NAME.yaml) may set, the
environment variable that overrides it (DEPLOYCTL_ + the key upper-cased, dots
and dashes as underscores) and its default. Needs no environment file.`,
		Example: `  deployctl env keys
  deployctl env keys -o json | jq -r '.keys[].env'`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return keysRun(opts)
		},
	}
}

type keyInfo struct {
	Key     string `json:"key"`
	Env     string `json:"env"`
	Default string `json:"default"`
}

func keysRun(o *KeysOptions) error {
	defaults := config.Defaults(o.f.Registry)
	res := struct {
		Keys []keyInfo `json:"keys"`
	}{}
	for _, k := range config.Keys(o.f.Registry) {
		ki := keyInfo{Key: k, Env: config.EnvName(k)}
		if d, ok := defaults[k]; ok {
			ki.Default = fmt.Sprint(d)
		}
		res.Keys = append(res.Keys, ki)
	}
	if o.f.Flags.JSON() {
		return o.IO.JSON(res)
	}
	t := o.IO.NewTable("key", "environment variable", "default")
	for _, k := range res.Keys {
		t.Row(k.Key, k.Env, k.Default)
	}
	return t.Render(o.IO.Out)
}

func configEnvironments(f *app.Factory) []string {
	return config.Environments(f.Flags.ConfigDir)
}
