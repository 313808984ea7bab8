package provider

import (
	"context"
	"time"
)

// VariableWrite is a change to some variables of one source, applied at
// once: either every value is written, or none is.
type VariableWrite struct {
	// Set maps a variable's name to its new value (an absent one is added).
	Set map[string]string
	// Rotated names the variables whose rotation time becomes At, where the
	// source can record one (a comment, an annotation, the version's date).
	Rotated []string
	At      time.Time
	// Token identifies this change, so that a retried write is applied once
	// (Secrets Manager's ClientRequestToken); stable across retries.
	Token string
}

// VariableWriter is the optional ability of a VariableSource to change
// the variables it holds. A source that cannot (the process environment)
// answers Writable and WriteVariables with an error wrapping ErrUnsupported
// that says why. A failed write leaves every variable as it was.
type VariableWriter interface {
	// Writable says, without I/O, whether names can be written here: nil,
	// or an error wrapping ErrUnsupported that says where to change them.
	Writable(names []string) error
	WriteVariables(ctx context.Context, w VariableWrite) error
	// Where names the place written, for people: "dotenv file .env".
	Where() string
}

// RotationTimes is the optional ability of a VariableSource to tell when
// its variables were last rotated; a name it has no record of is absent.
type RotationTimes interface {
	RotatedAt(ctx context.Context) (map[string]time.Time, error)
}

// SlotRestarter is the optional ability of a TrafficRouter to restart the
// processes of both slots (so that they read changed variables), as
// `kubectl rollout restart` does. It returns what it restarted.
type SlotRestarter interface {
	RestartSlots(ctx context.Context, at time.Time) ([]string, error)
}
