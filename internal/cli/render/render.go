// Package render is `deployctl render`: the environment's Kubernetes
// manifests from the project's templates/kubernetes folder (or the built-in
// ones), for kubectl apply or a GitOps repository, and `render alerts`: the
// Prometheus alerting rules of its monitoring thresholds.
package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/deployctl/deployctl"
	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider/kubernetes"
)

// builtinTemplates are the manifests deployctl ships (templates/kubernetes),
// used when the project has no templates/kubernetes folder of its own.
func builtinTemplates() (fs.FS, error) { return fs.Sub(deployctl.Assets, "templates/kubernetes") }

// Options are the options of render.
type Options struct {
	IO        *ui.IOStreams
	Factory   *app.Factory
	Out       string
	Templates string
	Image     string
	Gateway   string
	Hostname  string
}

// NewCmdRender returns the render command.
func NewCmdRender(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "render",
		GroupID: "release",
		Short:   "Write the environment's Kubernetes manifests",
		Long: `Render the environment's Kubernetes manifests from templates/kubernetes/*.yaml
(the project's own, else the built-in ones): the blue and green Deployments
(probes on the health paths, resources, envFrom ConfigMap and Secret) and
their Services, the HTTPRoute with all traffic on blue (or, in mode service,
the Service whose selector deployctl switches), the maintenance Deployment
and Service, and a PodDisruptionBudget per slot. Names come from the
environment's traffic.kubernetes section.

Without --out the manifests go to stdout as one stream, ready for
kubectl apply -f -. Apply the HTTPRoute once: re-applying it later would
undo a rollout's weights (see docs/kubernetes.md for GitOps tools).

render alerts writes the Prometheus alerting rules of monitoring.thresholds.`,
		Example: `  deployctl render -e staging | kubectl apply -f -
  deployctl render -e production --out deploy/production --image registry.example.com/api:1.4.2
  deployctl render -e staging --gateway public-gateway --hostname api.example.com`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return renderRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Out, "out", "", "write one file per template into `DIR` instead of stdout")
	fl.StringVar(&opts.Templates, "templates", "", "read the templates from `DIR` (default: <project>/templates/kubernetes, else built-in)")
	fl.StringVar(&opts.Image, "image", "", "container `IMAGE` of both slots (default: <app>:<env>)")
	fl.StringVar(&opts.Gateway, "gateway", "gateway", "the Gateway `NAME` the HTTPRoute attaches to")
	fl.StringVar(&opts.Hostname, "hostname", "", "the `HOST` name the HTTPRoute answers for")
	cmd.AddCommand(NewCmdAlerts(f, nil))
	return cmd
}

func renderRun(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	var s kubernetes.Settings
	if err := cfg.Decode("traffic.kubernetes", &s); err != nil {
		return err
	}
	if err := kubernetes.CheckRender(s); err != nil {
		return app.Usagef("%s: %v", cfg.File, err)
	}
	v := kubernetes.ValuesFor(cfg.Env, s)
	v.HealthPath, v.ReadinessPath = cfg.Health.Path, cfg.Health.ReadinessPath
	v.Gateway, v.Hostname = opts.Gateway, opts.Hostname
	if opts.Image != "" {
		v.Image = opts.Image
	}
	envFromSources(cfg.Variables.Sources, &v)
	fsys, from, err := templates(opts, cfg.Path(filepath.Join("templates", "kubernetes")))
	if err != nil {
		return err
	}
	files, err := kubernetes.Render(fsys, v)
	if err != nil {
		return fmt.Errorf("render %s: %w", from, err)
	}
	if f.Flags.JSON() {
		return writeJSON(opts, files)
	}
	return write(opts, files)
}

// writeJSON writes the manifests as one Kubernetes List in JSON, which
// kubectl apply -f - takes as it takes the YAML stream.
func writeJSON(opts *Options, files []kubernetes.File) error {
	if opts.Out != "" {
		return app.Usagef("-o json writes one List to stdout; --out writes a YAML file per template: use one of them")
	}
	items := []any{}
	for _, file := range files {
		dec := yaml.NewDecoder(bytes.NewReader(file.Content))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: %w", file.Name, err)
			}
			if doc != nil {
				items = append(items, doc)
			}
		}
	}
	return opts.IO.JSON(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
}

// envFromSources takes the ConfigMap and Secret names from a `kubernetes`
// variables source, so that env validate checks what the pods load.
func envFromSources(sources []map[string]any, v *kubernetes.Values) {
	for _, src := range sources {
		if src["type"] != "kubernetes" {
			continue
		}
		if cm, ok := src["configmap"].(string); ok && cm != "" {
			v.ConfigMap = cm
		}
		if sec, ok := src["secret"].(string); ok && sec != "" {
			v.Secret = sec
		}
	}
}

func templates(opts *Options, project string) (fs.FS, string, error) {
	if opts.Templates != "" {
		if _, err := os.Stat(opts.Templates); err != nil {
			return nil, "", app.Usagef("--templates: %v", err)
		}
		return os.DirFS(opts.Templates), opts.Templates, nil
	}
	if st, err := os.Stat(project); err == nil && st.IsDir() {
		return os.DirFS(project), project, nil
	}
	fsys, err := builtinTemplates()
	return fsys, "the built-in templates", err
}

func write(opts *Options, files []kubernetes.File) error {
	if opts.Out == "" {
		for _, file := range files {
			if _, err := fmt.Fprintf(opts.IO.Out, "# %s\n%s", file.Name, file.Content); err != nil {
				return err
			}
		}
		return nil
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, file := range files {
		p := filepath.Join(opts.Out, file.Name)
		errs = append(errs, os.WriteFile(p, file.Content, 0o644))
		fmt.Fprintln(opts.IO.Out, p)
	}
	return errors.Join(errs...)
}
