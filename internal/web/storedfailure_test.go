package web

import (
	"strings"
	"testing"
)

// Failure codes stored with activity outlive the code that wrote them: a per-try code
// from an older version must not show a raw {remaining}, and a code nothing registers
// any more must not take the page down (apperr.New panics on unknown codes).
func TestStoredFailure(t *testing.T) {
	for _, code := range []string{"card_otp_invalid", "card_verification_code_invalid", "card_declined"} {
		e, ok := storedFailure(code)
		if !ok {
			t.Fatalf("%s: no error", code)
		}
		for _, lang := range []string{"en", "zh-CN"} {
			if s := e.Message(lang) + e.Fix(lang); strings.Contains(s, "{") {
				t.Errorf("%s (%s): unfilled placeholder in %q", code, lang, s)
			}
		}
	}
	if _, ok := storedFailure("no_such_code_anywhere"); ok {
		t.Error("an unregistered code gave an error to show")
	}
	if _, ok := storedFailure(""); ok {
		t.Error("no code gave an error to show")
	}
}
