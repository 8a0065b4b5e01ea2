package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
	"okpay/internal/notify"
)

var ctx = context.Background()

const chineseSubject = "验证您的 OKPay 邮箱地址 — 验证码在里面，请在二十四小时内完成验证，否则需要重新发送"

func smtpSender(t *testing.T, ts *testServer, extra string) *notify.SMTPSender {
	t.Helper()
	cfg, err := notify.ParseSMTPURL("smtp://" + ts.Addr + "?from=" + "OKPay%20%E9%92%B1%E5%8C%85%20%3Cnoreply%40okpay.test%3E&timeout=10s" + extra)
	if err != nil {
		t.Fatal(err)
	}
	s, err := notify.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWorker(t *testing.T, d *db.DB, cfg notify.WorkerConfig) *notify.Worker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := notify.NewWorker(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func enqueue(t *testing.T, d *db.DB, e notify.Email) string {
	t.Helper()
	var id string
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		id, err = notify.EnqueueEmail(ctx, tx, e)
		return err
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return id
}

func verifyMail(to string) notify.Email {
	return notify.Email{To: to, Lang: "zh-CN", Subject: chineseSubject, Kind: "verify_email", UserID: "u1",
		Text: "您的验证码是 493021。\n\n或打开链接：https://okpay.test/verify?c=493021&u=1。\n\n<b>不是您本人操作？</b>请忽略本邮件。"}
}

func mailStatus(t *testing.T, d *db.DB, id string) notify.Mail {
	t.Helper()
	ms, err := notify.ListMail(ctx, d, "", notify.MaxMailLimit)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("mail %s not in outbox", id)
	return notify.Mail{}
}

func TestSendOverSMTP(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ts := startServer(t, serverOpts{})
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, "")})
		id := enqueue(t, d, verifyMail("alice@example.com"))

		sent, err := w.RunOnce(ctx)
		if err != nil || sent != 1 {
			t.Fatalf("sent %d, err %v", sent, err)
		}
		got := ts.messages()
		if len(got) != 1 {
			t.Fatalf("server got %d messages", len(got))
		}
		if got[0].From != "noreply@okpay.test" || len(got[0].To) != 1 || got[0].To[0] != "alice@example.com" {
			t.Fatalf("envelope %q → %q", got[0].From, got[0].To)
		}
		p := parseMessage(t, got[0].Data)
		if p.Subject != chineseSubject {
			t.Errorf("subject %q", p.Subject)
		}
		if p.From.Name != "OKPay 钱包" || p.From.Address != "noreply@okpay.test" {
			t.Errorf("from %+v", p.From)
		}
		if len(p.To) != 1 || p.To[0].Address != "alice@example.com" {
			t.Errorf("to %+v", p.To)
		}
		if p.MessageID != "<"+id+"@okpay.test>" {
			t.Errorf("message id %q, want one from outbox id %s", p.MessageID, id)
		}
		text, html := p.Parts["text/plain"], p.Parts["text/html"]
		if !strings.Contains(text, "您的验证码是 493021。") || !strings.Contains(text, "<b>不是您本人操作？</b>") {
			t.Errorf("text part %q", text)
		}
		if !strings.Contains(html, `<a href="https://okpay.test/verify?c=493021&amp;u=1">`) {
			t.Errorf("html part has no clickable link: %q", html)
		}
		if strings.Contains(html, "<b>") || !strings.Contains(html, "&lt;b&gt;") {
			t.Errorf("html part did not escape the text: %q", html)
		}

		m := mailStatus(t, d, id)
		if m.Status != notify.StatusSent || m.Attempts != 1 || !m.SentAt.Equal(d.Clock.Now()) {
			t.Errorf("after send: %+v", m)
		}
		if sent, err := w.RunOnce(ctx); err != nil || sent != 0 || len(ts.messages()) != 1 {
			t.Fatalf("second run sent %d (%v); server has %d", sent, err, len(ts.messages()))
		}
	})
}

func TestRolledBackEnqueueSendsNothing(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ts := startServer(t, serverOpts{})
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, "")})
		boom := errors.New("boom")
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := notify.EnqueueEmail(ctx, tx, verifyMail("bob@example.com")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("want boom, got %v", err)
		}
		if sent, err := w.RunOnce(ctx); err != nil || sent != 0 {
			t.Fatalf("sent %d, err %v", sent, err)
		}
		if n := len(ts.messages()); n != 0 {
			t.Fatalf("server got %d messages from a rolled-back transaction", n)
		}
		if ms, err := notify.ListMail(ctx, d, "", 0); err != nil || len(ms) != 0 {
			t.Fatalf("outbox %v, %v", ms, err)
		}
	})
}

func TestRetryWithBackoff(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		clock := d.Clock.(*dbtest.Clock)
		ts := startServer(t, serverOpts{})
		ts.rejectData = 2
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), BaseBackoff: 30 * time.Second})
		id := enqueue(t, d, verifyMail("carol@example.com"))

		step := func(advance time.Duration, wantSent, wantTries int, wantStatus string) {
			t.Helper()
			clock.Advance(advance)
			sent, err := w.RunOnce(ctx)
			if err != nil || sent != wantSent {
				t.Fatalf("after +%s: sent %d, err %v", advance, sent, err)
			}
			if got := ts.dataTries(); got != wantTries {
				t.Fatalf("after +%s: server saw %d tries, want %d", advance, got, wantTries)
			}
			if m := mailStatus(t, d, id); m.Status != wantStatus {
				t.Fatalf("after +%s: status %s (%s), want %s", advance, m.Status, m.LastError, wantStatus)
			}
		}
		step(0, 0, 1, notify.StatusFailed)
		if m := mailStatus(t, d, id); !strings.Contains(m.LastError, "451") || m.Attempts != 1 {
			t.Fatalf("last error %q attempts %d", m.LastError, m.Attempts)
		}
		step(29*time.Second, 0, 1, notify.StatusFailed) // first backoff is 30 s
		step(time.Second, 0, 2, notify.StatusFailed)
		step(59*time.Second, 0, 2, notify.StatusFailed) // then 60 s
		step(time.Second, 1, 3, notify.StatusSent)
		if m := mailStatus(t, d, id); m.Attempts != 3 || m.LastError != "" {
			t.Fatalf("after success: %+v", m)
		}
		if len(ts.messages()) != 1 {
			t.Fatalf("server accepted %d messages", len(ts.messages()))
		}
	})
}

func TestDeadAfterMaxAttempts(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		clock := d.Clock.(*dbtest.Clock)
		ts := startServer(t, serverOpts{})
		ts.rejectData = 1000
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), MaxAttempts: 4,
			BaseBackoff: time.Minute, MaxBackoff: 2 * time.Minute})
		id := enqueue(t, d, verifyMail("dave@example.com"))
		for i := 0; i < 10; i++ {
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Minute)
		}
		m := mailStatus(t, d, id)
		if m.Status != notify.StatusDead || m.Attempts != 4 || ts.dataTries() != 4 {
			t.Fatalf("status %s attempts %d tries %d, want dead after 4", m.Status, m.Attempts, ts.dataTries())
		}
	})
}

func TestPermanentRefusalIsDeadAtOnce(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ts := startServer(t, serverOpts{})
		ts.rejectRcptPermanent = true
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, "")})
		id := enqueue(t, d, verifyMail("nobody@example.com"))
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if m := mailStatus(t, d, id); m.Status != notify.StatusDead || !strings.Contains(m.LastError, "550") {
			t.Fatalf("after 550: %+v", m)
		}
	})
}

func TestStuckSendingRecovered(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		clock := d.Clock.(*dbtest.Clock)
		ts := startServer(t, serverOpts{})
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), LeaseTimeout: 10 * time.Minute})
		id := enqueue(t, d, verifyMail("erin@example.com"))
		// What a node killed between claiming and recording leaves behind.
		err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'sending', attempts = 1, claim_token = 'dead-node', next_attempt_at = $1 WHERE id = $2`,
				tx.NowMicros()+(10*time.Minute).Microseconds(), id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(9 * time.Minute)
		if sent, err := w.RunOnce(ctx); err != nil || sent != 0 {
			t.Fatalf("claimed inside another worker's lease: sent %d, err %v", sent, err)
		}
		clock.Advance(time.Minute)
		if sent, err := w.RunOnce(ctx); err != nil || sent != 1 {
			t.Fatalf("after lease: sent %d, err %v", sent, err)
		}
		if m := mailStatus(t, d, id); m.Status != notify.StatusSent || m.Attempts != 2 {
			t.Fatalf("recovered: %+v", m)
		}

		// Stuck with no attempts left: dead, not sent again.
		id2 := enqueue(t, d, verifyMail("frank@example.com"))
		err = d.InTx(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'sending', attempts = 8, claim_token = 'dead-node', next_attempt_at = $1 WHERE id = $2`,
				tx.NowMicros(), id2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if sent, err := w.RunOnce(ctx); err != nil || sent != 0 {
			t.Fatalf("sent %d err %v", sent, err)
		}
		if m := mailStatus(t, d, id2); m.Status != notify.StatusDead || !strings.Contains(m.LastError, "claim expired") {
			t.Fatalf("exhausted stuck message: %+v", m)
		}
	})
}

// openTwice opens two handles on one new database, as two nodes would.
func openTwice(t *testing.T, engine db.Engine, clock db.Clock) (*db.DB, *db.DB) {
	t.Helper()
	cfg := db.Config{Clock: clock}
	if engine == db.Postgres {
		cfg.URL = dbtest.NewSchema(t)
	} else {
		cfg.DataDir = t.TempDir()
	}
	open := func() *db.DB {
		d, err := db.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	a, b := open(), open()
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestTwoWorkersNeverDoubleSend(t *testing.T) {
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			a, b := openTwice(t, engine, dbtest.NewClock())
			ts := startServer(t, serverOpts{})
			const n = 60
			for i := 0; i < n; i++ {
				enqueue(t, a, notify.Email{To: fmt.Sprintf("user%d@example.com", i), Subject: "hi", Text: "hello", Kind: "test"})
			}
			var wg sync.WaitGroup
			var total [2]int
			for i, d := range []*db.DB{a, b} {
				w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), BatchSize: 3})
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						sent, err := w.RunOnce(ctx)
						if err != nil {
							t.Error(err)
							return
						}
						if sent == 0 {
							return
						}
						total[i] += sent
					}
				}()
			}
			wg.Wait()
			seen := map[string]int{}
			for _, m := range ts.messages() {
				seen[m.To[0]]++
			}
			for i := 0; i < n; i++ {
				if c := seen[fmt.Sprintf("user%d@example.com", i)]; c != 1 {
					t.Errorf("user%d got %d copies", i, c)
				}
			}
			if total[0]+total[1] != n {
				t.Errorf("workers report %d + %d sent, want %d", total[0], total[1], n)
			}
			t.Logf("split: %d / %d", total[0], total[1])
			ms, err := notify.ListMail(ctx, a, "", notify.MaxMailLimit)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.Status != notify.StatusSent || m.Attempts != 1 {
					t.Errorf("%s: %s after %d attempts", m.To, m.Status, m.Attempts)
				}
			}
		})
	}
}

func TestSTARTTLSAndImplicitTLSWithAuth(t *testing.T) {
	serverTLS, clientTLS := selfSigned(t)
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit=%v", implicit), func(t *testing.T) {
			ts := startServer(t, serverOpts{tlsConfig: serverTLS, implicitTLS: implicit, user: "mailer", pass: "s3cret p@ss"})
			scheme, extra := "smtp", "&starttls=required"
			if implicit {
				scheme, extra = "smtps", ""
			}
			cfg, err := notify.ParseSMTPURL(scheme + "://mailer:s3cret%20p%40ss@" + ts.Addr + "?from=noreply%40okpay.test" + extra)
			if err != nil {
				t.Fatal(err)
			}
			cfg.TLSConfig = clientTLS
			s, err := notify.NewSMTPSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Send(ctx, verifyMail("grace@example.com")); err != nil {
				t.Fatal(err)
			}
			got := ts.messages()
			if len(got) != 1 || !got[0].TLS || got[0].Auth != "mailer" {
				t.Fatalf("got %+v", got)
			}
		})
	}
	t.Run("untrusted certificate", func(t *testing.T) {
		ts := startServer(t, serverOpts{tlsConfig: serverTLS})
		cfg, _ := notify.ParseSMTPURL("smtp://" + ts.Addr + "?from=noreply%40okpay.test&starttls=required")
		s, _ := notify.NewSMTPSender(cfg)
		err := s.Send(ctx, verifyMail("grace@example.com"))
		if err == nil || notify.IsPermanent(err) {
			t.Fatalf("want a retryable TLS error, got %v", err)
		}
	})
	t.Run("starttls required but not offered", func(t *testing.T) {
		ts := startServer(t, serverOpts{})
		cfg, _ := notify.ParseSMTPURL("smtp://" + ts.Addr + "?from=noreply%40okpay.test&starttls=required")
		s, _ := notify.NewSMTPSender(cfg)
		if err := s.Send(ctx, verifyMail("grace@example.com")); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("want refusal, got %v", err)
		}
		if len(ts.messages()) != 0 {
			t.Fatal("sent without TLS")
		}
	})
}

func TestParseSMTPURL(t *testing.T) {
	c, err := notify.ParseSMTPURL("smtps://u%40x:p%3Aw@mail.example.com?from=OKPay%20%3Cno@okpay.test%3E&helo=node1&timeout=1m")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ImplicitTLS || c.Port != 465 || c.Username != "u@x" || c.Password != "p:w" || c.From.Name != "OKPay" ||
		c.From.Address != "no@okpay.test" || c.HelloName != "node1" || c.Timeout != time.Minute {
		t.Fatalf("%+v", c)
	}
	if c, _ := notify.ParseSMTPURL("smtp://h?from=a@b.c"); c.Port != 587 || c.ImplicitTLS {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{"http://h?from=a@b.c", "smtp://h", "smtp://?from=a@b.c", "smtp://h:99999?from=a@b.c",
		"smtp://h?from=a@b.c&starttls=maybe", "smtp://h?from=a@b.c&timeout=1h", "smtp://h?from=nope"} {
		if _, err := notify.ParseSMTPURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	_, err = notify.ParseSMTPURL("smtp://user:hunter2@h")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v", err)
	}
}

func TestEnqueueValidation(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	good := notify.Email{To: "a@example.com", Subject: "s", Text: "t", Kind: "k", Lang: "en"}
	cases := map[string]func(e *notify.Email){
		"empty to":         func(e *notify.Email) { e.To = "" },
		"bad to":           func(e *notify.Email) { e.To = "not an address" },
		"display name":     func(e *notify.Email) { e.To = "A <a@example.com>" },
		"two addresses":    func(e *notify.Email) { e.To = "a@example.com, b@example.com" },
		"long to":          func(e *notify.Email) { e.To = strings.Repeat("a", 250) + "@example.com" },
		"empty subject":    func(e *notify.Email) { e.Subject = " " },
		"header injection": func(e *notify.Email) { e.Subject = "hi\r\nBcc: x@example.com" },
		"long subject":     func(e *notify.Email) { e.Subject = strings.Repeat("长", notify.MaxSubjectRunes+1) },
		"empty text":       func(e *notify.Email) { e.Text = "" },
		"huge text":        func(e *notify.Email) { e.Text = strings.Repeat("x", notify.MaxTextBytes+1) },
		"huge html":        func(e *notify.Email) { e.HTML = strings.Repeat("x", notify.MaxHTMLBytes+1) },
		"bad utf8":         func(e *notify.Email) { e.Text = "\xff" },
		"empty kind":       func(e *notify.Email) { e.Kind = "" },
		"bad kind":         func(e *notify.Email) { e.Kind = "Verify Email" },
		"bad lang":         func(e *notify.Email) { e.Lang = "zh_CN;x" },
	}
	for name, mutate := range cases {
		e := good
		mutate(&e)
		err := d.InTx(ctx, func(tx *db.Tx) error { _, err := notify.EnqueueEmail(ctx, tx, e); return err })
		if !apperr.HasCode(err, apperr.CodeValidation) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	smsCases := map[string]notify.SMS{
		"bad phone":  {To: "13800138000", Text: "t", Kind: "k"},
		"empty text": {To: "+8613800138000", Kind: "k"},
		"long text":  {To: "+8613800138000", Text: strings.Repeat("码", notify.MaxSMSRunes+1), Kind: "k"},
	}
	for name, s := range smsCases {
		err := d.InTx(ctx, func(tx *db.Tx) error { _, err := notify.EnqueueSMS(ctx, tx, s); return err })
		if !apperr.HasCode(err, apperr.CodeValidation) {
			t.Errorf("sms %s: got %v", name, err)
		}
	}
	if ms, _ := notify.ListMail(ctx, d, "", 0); len(ms) != 0 {
		t.Fatalf("invalid mail stored: %v", ms)
	}
}

func TestDevMailboxAndListMail(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		clock := d.Clock.(*dbtest.Clock)
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		w := newWorker(t, d, notify.WorkerConfig{Email: notify.DevMailbox{Logger: logger}})
		for i := 0; i < 3; i++ {
			enqueue(t, d, notify.Email{To: "h@example.com", Subject: fmt.Sprintf("n%d", i), Text: "code 111222", Kind: "verify_email"})
			clock.Advance(time.Second)
		}
		enqueue(t, d, notify.Email{To: "other@example.com", Subject: "x", Text: "y", Kind: "k"})
		pending, err := notify.ListMail(ctx, d, "h@example.com", 0)
		if err != nil || len(pending) != 3 || pending[0].Status != notify.StatusPending {
			t.Fatalf("before worker: %+v %v", pending, err)
		}
		if sent, err := w.RunOnce(ctx); err != nil || sent != 4 {
			t.Fatalf("sent %d err %v", sent, err)
		}
		ms, err := notify.ListMail(ctx, d, "h@example.com", 2)
		if err != nil || len(ms) != 2 {
			t.Fatalf("%v %v", ms, err)
		}
		if ms[0].Subject != "n2" || ms[1].Subject != "n1" || ms[0].Status != notify.StatusSent || ms[0].HTML == "" {
			t.Fatalf("not newest first or not sent: %+v", ms)
		}
		if all, _ := notify.ListMail(ctx, d, "", 0); len(all) != 4 {
			t.Fatalf("all: %d", len(all))
		}
		if strings.Contains(logs.String(), "111222") {
			t.Fatalf("dev mailbox logged a code: %s", logs.String())
		}
	})
}

func TestLogSMS(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		for _, dev := range []bool{true, false} {
			var logs bytes.Buffer
			w := newWorker(t, d, notify.WorkerConfig{SMS: notify.LogSMS{Dev: dev, Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
			var id string
			err := d.InTx(ctx, func(tx *db.Tx) error {
				var err error
				id, err = notify.EnqueueSMS(ctx, tx, notify.SMS{To: "+8613800138000", Text: "OKPay 验证码 654321", Kind: "reset_password"})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			sent, err := w.RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var status, lastErr string
			if err := d.Read(ctx, func(tx *db.Tx) error {
				return tx.QueryRowContext(ctx, `SELECT status, last_error FROM outbox WHERE id = $1`, id).Scan(&status, &lastErr)
			}); err != nil {
				t.Fatal(err)
			}
			hasCode := strings.Contains(logs.String(), "654321")
			if dev && (sent != 1 || status != notify.StatusSent || !hasCode) {
				t.Errorf("dev: sent %d status %s, code in log %v", sent, status, hasCode)
			}
			if !dev && (sent != 0 || status != notify.StatusDead || hasCode || strings.Contains(logs.String(), "13800138000")) {
				t.Errorf("production: sent %d status %s (%s), log %s", sent, status, lastErr, logs.String())
			}
		}
	})
}

func TestRunKickAndStop(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ts := startServer(t, serverOpts{})
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), PollInterval: time.Hour})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- w.Run(rctx) }()
		time.Sleep(50 * time.Millisecond) // let the first, empty poll pass
		enqueue(t, d, verifyMail("kick@example.com"))
		w.Kick()
		deadline := time.Now().Add(10 * time.Second)
		for len(ts.messages()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if len(ts.messages()) != 1 {
			t.Fatal("Kick did not wake the worker")
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop")
		}
	})
}

// A Kick waits KickDelay before claiming, so the messages of requests around it go out in
// one claim: nothing is sent during the wait, and a message enqueued in it goes with the
// first.
func TestRunKickGathers(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		ts := startServer(t, serverOpts{})
		w := newWorker(t, d, notify.WorkerConfig{Email: smtpSender(t, ts, ""), PollInterval: time.Hour, KickDelay: 300 * time.Millisecond})
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- w.Run(rctx) }()
		time.Sleep(50 * time.Millisecond) // let the first, empty poll pass
		enqueue(t, d, verifyMail("first@example.com"))
		w.Kick()
		time.Sleep(100 * time.Millisecond)
		if n := len(ts.messages()); n != 0 {
			t.Fatalf("%d sent before the kick's delay ended", n)
		}
		enqueue(t, d, verifyMail("second@example.com"))
		w.Kick()
		deadline := time.Now().Add(10 * time.Second)
		for len(ts.messages()) < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := len(ts.messages()); n != 2 {
			t.Fatalf("sent %d of 2", n)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
