package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"okpay/internal/identity"
	"okpay/internal/server"
)

func TestAdminCreateUserAndReset2FA(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OKPAY_DATABASE_URL", "")
	ctx := context.Background()
	var out bytes.Buffer
	if err := runAdmin(ctx, []string{"create-user", "--data", dir, "--email", "Agent.One@Example.com", "--role", "agent"}, &out); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "created agent agent.one@example.com") {
		t.Fatalf("output: %s", out.String())
	}
	if err := identity.CheckPassword(m[1], "agent.one@example.com"); err != nil {
		t.Fatalf("generated password breaks the rule: %v", err)
	}
	// Duplicates and bad roles are refused with the reason.
	err := runAdmin(ctx, []string{"create-user", "--data", dir, "--email", "agent.one@example.com", "--role", "agent"}, &out)
	if err == nil || !strings.Contains(err.Error(), "email_taken") {
		t.Fatalf("duplicate: %v", err)
	}
	err = runAdmin(ctx, []string{"create-user", "--data", dir, "--email", "x@example.com", "--role", "wizard", "--password", "Blue-Kettle-2026!"}, &out)
	if err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("bad role: %v", err)
	}
	if err := runAdmin(ctx, []string{"reset-2fa", "--data", dir, "--email", "agent.one@example.com"}, &out); err != errUsage {
		t.Fatalf("reset without reason: %v", err)
	}

	// A user with 2-step on, who lost the phone.
	if err := runAdmin(ctx, []string{"create-user", "--data", dir, "--email", "wes@example.com", "--role", "customer", "--password", "Blue-Kettle-2026!"}, &out); err != nil {
		t.Fatal(err)
	}
	svc, d, err := server.OpenIdentity(ctx, server.Config{DataDir: dir, LogLevel: "info", LogFormat: "text", MaxConns: 2, ShutdownTimeout: 1, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	si, err := svc.SignIn(ctx, identity.SignInInput{Email: "wes@example.com", Password: "Blue-Kettle-2026!"}, identity.Client{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := svc.BeginTOTP(ctx, si.Session.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx, si.Session.ID, totpNow(t, enr.Secret), identity.Client{IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := runAdmin(ctx, []string{"reset-2fa", "--data", dir, "--email", "wes@example.com", "--reason", "lost phone; ID checked on video call"}, &out); err != nil {
		t.Fatal(err)
	}
	svc, d, err = server.OpenIdentity(ctx, server.Config{DataDir: dir, LogLevel: "info", LogFormat: "text", MaxConns: 2, ShutdownTimeout: 1, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	si, err = svc.SignIn(ctx, identity.SignInInput{Email: "wes@example.com", Password: "Blue-Kettle-2026!"}, identity.Client{IP: "127.0.0.1"})
	if err != nil || si.SecondStep {
		t.Fatalf("sign-in after reset: %+v %v", si, err)
	}
	err = runAdmin(ctx, []string{"reset-2fa", "--data", dir, "--email", "wes@example.com", "--reason", "again"}, &out)
	if err == nil || !strings.Contains(err.Error(), identity.CodeTOTPNotEnabled) {
		t.Fatalf("second reset: %v", err)
	}
}
