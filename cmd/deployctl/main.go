// Command deployctl releases and runs a web API backed by PostgreSQL.
package main

import (
	"os"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/root"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

func main() { os.Exit(app.Main(root.NewCmdRoot, all.Registry())) }
