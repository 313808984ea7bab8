// Package startup pauses the garbage collector while the binary's packages
// initialise: client-go's scheme and the AWS SDK's tables allocate about
// 4 MB at init, and the collection that triggers cost about a fifth of
// `deployctl --help`. Go initialises ready packages in import-path order and
// this one depends only on runtime/debug, so it runs before those. app.Main
// calls Done first thing, restoring GOGC as the process was given it.
package startup

import "runtime/debug"

var gcPercent = debug.SetGCPercent(-1)

// Done turns the garbage collector back on.
func Done() { debug.SetGCPercent(gcPercent) }
