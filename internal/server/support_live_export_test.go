package server

import "time"

// SetChatOpenNow makes live chat open (or closed) whatever the time, for tests.
func SetChatOpenNow(f func(time.Time) bool) (restore func()) {
	old := chatOpenNowOverride
	chatOpenNowOverride = f
	return func() { chatOpenNowOverride = old }
}
