package server

import (
	"okpay/internal/rail"
)

// SetSandboxTuning lets tests shorten the sandbox bank's delays for servers they start;
// it returns the function restoring it.
func SetSandboxTuning(f func(*rail.SandboxConfig)) (restore func()) {
	old := sandboxTuning
	sandboxTuning = f
	return func() { sandboxTuning = old }
}
