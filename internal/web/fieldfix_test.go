package web

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/httpx"
	"okpay/internal/rail"
)

// A field error shows its code's fix next to the field: "The security code (CVV) is not
// valid." alone left people guessing which digits it wants.
func TestFieldErrorCarriesItsFix(t *testing.T) {
	u, err := New(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "3 digits on the back", "zh-CN": "卡背面的 3 位数字"} {
		r := httptest.NewRequest("POST", "/wallet/cards", nil)
		r = r.WithContext(httpx.WithLang(r.Context(), lang))
		f, _ := u.failed(httptest.NewRecorder(), r,
			apperr.New(apperr.CodeValidation).Field("cvv", rail.CodeCardCVVInvalid).Field("other", apperr.CodeRequired), "")
		if got := f.F("cvv"); !strings.Contains(got, want) {
			t.Errorf("%s: cvv field error %q lacks its fix %q", lang, got, want)
		}
		if got := f.F("other"); got == "" || strings.Contains(got, "{") {
			t.Errorf("%s: a field code without a fix shows %q", lang, got)
		}
	}
}
