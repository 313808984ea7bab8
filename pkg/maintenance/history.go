package maintenance

import "github.com/deployctl/deployctl/pkg/provider"

// historyEntry is a history entry whose result follows err.
func historyEntry(command string, before, after any, err error) provider.Entry {
	e := provider.Entry{Command: command, Before: before, After: after, Result: "ok"}
	if err != nil {
		e.Result, e.Detail = "failed", err.Error()
	}
	return e
}
