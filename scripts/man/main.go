// Command man writes deployctl's man pages (section 1), one per command,
// from the commands' own help with cobra's doc generator, into the folder
// given (default man/). The release archives ship them
// (.goreleaser.yaml runs it before building).
//
//	go run ./scripts/man [DIR]
package main

import (
	"fmt"
	"os"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/root"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

func main() {
	dir := "man"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := root.WriteManPages(app.NewFactory(all.Registry()), dir); err != nil {
		fmt.Fprintln(os.Stderr, "man:", err)
		os.Exit(1)
	}
}
