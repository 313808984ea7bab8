//go:build !unix

package live

// onResize: no SIGWINCH here; the next Draw reads the new size.
func onResize(func()) (stop func()) { return func() {} }
