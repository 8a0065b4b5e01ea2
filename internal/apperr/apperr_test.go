package apperr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestCatalogComplete(t *testing.T) {
	for _, d := range Catalog() {
		if d.Message.En == "" || d.Message.Zh == "" {
			t.Errorf("%s: message missing a language", d.Code)
		}
		if (d.Fix.En == "") != (d.Fix.Zh == "") {
			t.Errorf("%s: fix present in one language only", d.Code)
		}
		if d.Status < 400 || d.Status > 599 {
			t.Errorf("%s: status %d is not an error status", d.Code, d.Status)
		}
	}
}

func TestBodyInternalHidesCause(t *testing.T) {
	status, b := ToBody(fmt.Errorf("query accounts: %w", errors.New("pq: password=secret")), "en", "req-1")
	if status != 500 || b.Error.Code != CodeInternal || b.Error.RequestID != "req-1" {
		t.Fatalf("got %d %+v", status, b)
	}
	if strings.Contains(b.Error.Message, "secret") || strings.Contains(b.Error.Fix, "secret") {
		t.Fatal("internal detail leaked")
	}
}

func TestBodyLocalisedWithParams(t *testing.T) {
	err := fmt.Errorf("pay: %w", New(CodeRateLimited).With("retry_after", "30"))
	status, b := ToBody(err, "zh-CN", "r")
	if status != 429 || b.Error.Code != CodeRateLimited {
		t.Fatalf("got %d %+v", status, b)
	}
	if !strings.Contains(b.Error.Fix, "30 秒") {
		t.Fatalf("zh fix not filled: %q", b.Error.Fix)
	}
	_, b = ToBody(err, "en", "r")
	if !strings.Contains(b.Error.Fix, "30 seconds") {
		t.Fatalf("en fix not filled: %q", b.Error.Fix)
	}
	if !errors.Is(err, New(CodeRateLimited)) || errors.Is(err, New(CodeNotFound)) {
		t.Fatal("errors.Is by code broken")
	}
}

func TestFieldErrors(t *testing.T) {
	e := New(CodeValidation).Field("email", CodeRequired)
	_, b := ToBody(e, "en", "r")
	if len(b.Error.Fields) != 1 || b.Error.Fields[0].Field != "email" || b.Error.Fields[0].Message == "" {
		t.Fatalf("fields: %+v", b.Error.Fields)
	}
}

// An API field error carries its own code's fix (none when the code has none), as the
// web page shows it next to the field.
func TestFieldErrorsCarryTheirFix(t *testing.T) {
	e := New(CodeInvalidJSON).Field("amount", CodeJSONFieldType).Field("email", CodeRequired)
	_, b := ToBody(e, "zh-CN", "r")
	if len(b.Error.Fields) != 2 || !strings.Contains(b.Error.Fields[0].Fix, "带引号的字符串") {
		t.Fatalf("fields: %+v", b.Error.Fields)
	}
	if d, _ := Lookup(CodeRequired); b.Error.Fields[1].Fix != d.Fix.In("zh-CN", nil) {
		t.Fatalf("required: fix %q, want its own (%q)", b.Error.Fields[1].Fix, d.Fix.In("zh-CN", nil))
	}
}

func TestUnregisteredPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected panic for unregistered code")
		}
	}()
	New("no_such_code")
}
