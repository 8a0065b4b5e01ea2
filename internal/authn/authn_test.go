package authn

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"okpay/internal/apperr"
	"okpay/internal/identity"
)

type fakeAuth struct {
	signedOut []string
}

func (f *fakeAuth) Authenticate(_ context.Context, token string) (*identity.Session, *identity.User, error) {
	if token == "good" {
		return &identity.Session{ID: "s1", DeviceID: "d1"}, &identity.User{ID: "u1", Role: identity.RoleCustomer}, nil
	}
	return nil, nil, apperr.New(apperr.CodeUnauthenticated)
}

func (f *fakeAuth) AuthenticateAPIKey(_ context.Context, secret string) (*identity.APIKey, *identity.User, error) {
	switch secret {
	case "okp_good":
		return &identity.APIKey{ID: "k1", Scopes: []string{"read"}}, &identity.User{ID: "u2", Role: identity.RoleMerchant}, nil
	case "okp_restricted":
		return nil, nil, apperr.New(identity.CodeSigninRestricted)
	}
	return nil, nil, apperr.New(apperr.CodeUnauthenticated)
}

func (f *fakeAuth) SignOut(_ context.Context, token string) error {
	f.signedOut = append(f.signedOut, token)
	return nil
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMiddleware(t *testing.T) {
	var got *Principal
	var gotErr error
	h := Middleware(&fakeAuth{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotErr = User(r.Context())
	}))
	cases := []struct {
		name, cookie, auth string
		user, code         string
		cleared            bool
	}{
		{name: "anonymous", code: apperr.CodeUnauthenticated},
		{name: "session", cookie: "good", user: "u1"},
		{name: "dead session", cookie: "stale", code: apperr.CodeUnauthenticated, cleared: true},
		{name: "api key", auth: "Bearer okp_good", user: "u2"},
		{name: "api key wins over cookie", auth: "bearer okp_good", cookie: "good", user: "u2"},
		{name: "unknown key", auth: "Bearer okp_nope", code: apperr.CodeUnauthenticated},
		{name: "restricted key says why", auth: "Bearer okp_restricted", code: identity.CodeSigninRestricted},
		{name: "basic auth ignored", auth: "Basic dXNlcjpwYXNz", code: apperr.CodeUnauthenticated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/me", nil)
			if c.cookie != "" {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: c.cookie})
			}
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			w := serve(h, r)
			if c.user != "" && (got == nil || got.User.ID != c.user) {
				t.Fatalf("principal %+v, err %v", got, gotErr)
			}
			if c.code != "" && !apperr.HasCode(gotErr, c.code) {
				t.Fatalf("err %v, want %s", gotErr, c.code)
			}
			cleared := false
			for _, ck := range w.Result().Cookies() {
				cleared = cleared || (ck.Name == SessionCookie && ck.MaxAge < 0)
			}
			if cleared != c.cleared {
				t.Fatalf("cookie cleared %v, want %v", cleared, c.cleared)
			}
		})
	}
}

func TestRequireRoleAndSession(t *testing.T) {
	var status int
	onErr := func(w http.ResponseWriter, r *http.Request, err error) {
		e, _ := apperr.As(err)
		status = e.Status()
	}
	ok := func(http.ResponseWriter, *http.Request) { status = 200 }
	staff := Middleware(&fakeAuth{}, RequireRole(onErr, []identity.Role{identity.RoleAgent}, ok))
	sessOnly := Middleware(&fakeAuth{}, RequireSession(onErr, ok))
	r := httptest.NewRequest("GET", "/x", nil)
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "good"})
	if serve(staff, r); status != http.StatusForbidden {
		t.Fatalf("customer on a staff route: %d", status)
	}
	if serve(sessOnly, r); status != 200 {
		t.Fatalf("session route: %d", status)
	}
	r = httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer okp_good")
	if serve(sessOnly, r); status != http.StatusUnauthorized {
		t.Fatalf("API key on a session route: %d", status)
	}
}

func TestCookiesAndSignedIn(t *testing.T) {
	f := &fakeAuth{}
	r := httptest.NewRequest("POST", "/signin", nil)
	r.TLS = &tls.ConnectionState{}
	r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "planted"})
	w := httptest.NewRecorder()
	if err := SignedIn(context.Background(), w, r, f.SignOut, "fresh", "device-1"); err != nil {
		t.Fatal(err)
	}
	if len(f.signedOut) != 1 || f.signedOut[0] != "planted" {
		t.Fatalf("the session the browser had before was not ended: %v", f.signedOut)
	}
	for _, ck := range w.Result().Cookies() {
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Errorf("cookie %s flags: %+v", ck.Name, ck)
		}
		if ck.Name == SessionCookie && (ck.Value != "fresh" || ck.MaxAge != 0) {
			t.Errorf("session cookie %+v", ck)
		}
		if ck.Name == DeviceCookie && ck.MaxAge < 300*24*3600 {
			t.Errorf("device cookie not long-lived: %+v", ck)
		}
	}
}

func TestClient(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:5555"
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	r.Header.Set("User-Agent", "test-agent")
	r.AddCookie(&http.Cookie{Name: DeviceCookie, Value: "abc"})
	c := Client(r)
	if c.IP != "2001:db8::1" || c.UserAgent != "test-agent" || c.DeviceCookie != "abc" {
		t.Fatalf("%+v", c)
	}
}
