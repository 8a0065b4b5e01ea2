package server

import "okpay/internal/identity"

// SetIdentityTuning lets tests adjust the identity configuration of servers they start
// (roomier rate limits, a fixed clock's needs); it returns the function restoring it.
func SetIdentityTuning(f func(*identity.Config)) (restore func()) {
	old := identityTuning
	identityTuning = f
	return func() { identityTuning = old }
}
