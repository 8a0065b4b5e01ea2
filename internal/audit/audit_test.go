package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"okpay/internal/audit"
	"okpay/internal/db"
	"okpay/internal/db/dbtest"
)

var ctx = context.Background()

func appendOne(t *testing.T, d *db.DB, e audit.Entry) {
	t.Helper()
	if err := d.InTx(ctx, func(tx *db.Tx) error { return audit.Append(ctx, tx, e) }); err != nil {
		t.Fatalf("append: %v", err)
	}
}

func freeze(i int) audit.Entry {
	return audit.Entry{ActorKind: audit.ActorAgent, ActorID: "agent-7", Action: "user.freeze",
		SubjectID: fmt.Sprintf("user-%d", i%3), Reason: "客户来电：手机丢失", ClientAddr: "203.0.113.9",
		Details: map[string]any{"scope": []string{"send", "withdraw"}, "n": i}}
}

func mustVerify(t *testing.T, d *db.DB) audit.Report {
	t.Helper()
	rep, err := audit.Verify(ctx, d)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func TestAppendListVerify(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		clock := d.Clock.(*dbtest.Clock)
		if rep := mustVerify(t, d); !rep.OK() || rep.Entries != 0 || rep.HeadHash != audit.GenesisHash {
			t.Fatalf("empty log: %+v", rep)
		}
		for i := 0; i < 7; i++ {
			appendOne(t, d, freeze(i))
			clock.Advance(time.Second)
		}
		appendOne(t, d, audit.Entry{ActorKind: audit.ActorSystem, Action: "user.unfreeze_scheduled", SubjectID: "user-1",
			Details: json.RawMessage(` {"at": 1} `)})

		rep := mustVerify(t, d)
		if !rep.OK() || rep.Entries != 8 || rep.HeadSeq != 8 {
			t.Fatalf("report %+v (%v)", rep, rep.Break)
		}
		recs, err := audit.List(ctx, d, audit.Filter{SubjectID: "user-1", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0].Seq != 8 || recs[1].Seq != 5 {
			t.Fatalf("newest first for user-1: %+v", recs)
		}
		if string(recs[0].Details) != `{"at":1}` || recs[0].ActorID != "" {
			t.Fatalf("system entry: %+v", recs[0])
		}
		r := recs[1]
		if r.Reason != "客户来电：手机丢失" || r.ClientAddr != "203.0.113.9" || r.Action != "user.freeze" ||
			!r.Time.Equal(dbtest.NewClock().Now().Add(4*time.Second)) || r.Hash != audit.ComputeHash(r) {
			t.Fatalf("record %+v", r)
		}
		next, err := audit.List(ctx, d, audit.Filter{SubjectID: "user-1", Before: recs[1].Seq})
		if err != nil || len(next) != 1 || next[0].Seq != 2 {
			t.Fatalf("next page %+v %v", next, err)
		}
		byActor, err := audit.List(ctx, d, audit.Filter{ActorID: "agent-7"})
		if err != nil || len(byActor) != 7 {
			t.Fatalf("by actor: %d %v", len(byActor), err)
		}
	})
}

func TestAppendRollsBackWithTheChange(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		boom := errors.New("boom")
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if err := audit.Append(ctx, tx, freeze(0)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		appendOne(t, d, freeze(1))
		if rep := mustVerify(t, d); !rep.OK() || rep.HeadSeq != 1 {
			t.Fatalf("%+v", rep)
		}
	})
}

func TestInvalidEntries(t *testing.T) {
	d := dbtest.Open(t, db.SQLite, nil)
	for name, e := range map[string]audit.Entry{
		"no actor kind":    {ActorID: "a", Action: "x.y"},
		"bad actor kind":   {ActorKind: "robot", ActorID: "a", Action: "x.y"},
		"agent without id": {ActorKind: audit.ActorAgent, Action: "x.y"},
		"bad action":       {ActorKind: audit.ActorSystem, Action: "User Freeze"},
		"empty action":     {ActorKind: audit.ActorSystem},
		"long reason":      {ActorKind: audit.ActorSystem, Action: "x.y", Reason: strings.Repeat("因", audit.MaxReasonRunes+1)},
		"newline in id":    {ActorKind: audit.ActorUser, ActorID: "a\nb", Action: "x.y"},
		"huge details":     {ActorKind: audit.ActorSystem, Action: "x.y", Details: strings.Repeat("x", audit.MaxDetailsBytes)},
		"bad details":      {ActorKind: audit.ActorSystem, Action: "x.y", Details: func() {}},
	} {
		err := d.InTx(ctx, func(tx *db.Tx) error { return audit.Append(ctx, tx, e) })
		if !errors.Is(err, audit.ErrInvalidEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestConcurrentAppendsDoNotFork appends from many goroutines through two database handles
// (two nodes) at once; the chain must come out linear and whole.
func TestConcurrentAppendsDoNotFork(t *testing.T) {
	for _, engine := range []db.Engine{db.SQLite, db.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			cfg := db.Config{Clock: dbtest.NewClock()}
			if engine == db.Postgres {
				cfg.URL = dbtest.NewSchema(t)
			} else {
				cfg.DataDir = t.TempDir()
			}
			var nodes []*db.DB
			for i := 0; i < 2; i++ {
				d, err := db.Open(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { d.Close() })
				nodes = append(nodes, d)
			}
			if _, err := nodes[0].Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			const workers, each = 8, 15
			var wg sync.WaitGroup
			for g := 0; g < workers; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := nodes[g%2]
					for i := 0; i < each; i++ {
						err := d.InTx(ctx, func(tx *db.Tx) error {
							return audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorUser, ActorID: fmt.Sprintf("g%d", g),
								Action: "session.revoke", Details: map[string]int{"i": i}})
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			rep := mustVerify(t, nodes[1])
			if !rep.OK() || rep.Entries != workers*each || rep.HeadSeq != workers*each {
				t.Fatalf("report %+v, break %v", rep, rep.Break)
			}
		})
	}
}

// dropGuards removes the triggers, as someone with owner rights could.
func dropGuards(t *testing.T, d *db.DB) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`,
		`DROP TRIGGER audit_log_extends_head`, `DROP TRIGGER audit_head_advances`}
	if d.Engine == db.Postgres {
		stmts = []string{`DROP TRIGGER audit_log_append_only ON audit_log`, `DROP TRIGGER audit_log_extends_head ON audit_log`,
			`DROP TRIGGER audit_head_advances ON audit_head`}
	}
	for _, s := range stmts {
		if _, err := d.W.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestGuardsRefuseChanges(t *testing.T) {
	dbtest.Engines(t, func(t *testing.T, d *db.DB) {
		for i := 0; i < 3; i++ {
			appendOne(t, d, freeze(i))
		}
		for _, s := range []string{
			`UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2`,
			`DELETE FROM audit_log WHERE seq = 3`,
			`INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_id, reason, client_addr, details, prev_hash, hash)
				VALUES (4, 0, 'user', 'x', 'x.y', '', '', '', '{}', 'bogus', 'bogus')`,
			`UPDATE audit_head SET seq = 2 WHERE id = 1`,
			`UPDATE audit_head SET seq = 4, hash = 'bogus' WHERE id = 1`,
			`DELETE FROM audit_head`,
		} {
			if _, err := d.W.ExecContext(ctx, s); err == nil {
				t.Errorf("accepted: %s", s)
			}
		}
		if d.Engine == db.Postgres {
			if _, err := d.W.ExecContext(ctx, `TRUNCATE audit_log`); err == nil {
				t.Error("TRUNCATE accepted")
			}
		}
		if rep := mustVerify(t, d); !rep.OK() || rep.Entries != 3 {
			t.Fatalf("%+v %v", rep, rep.Break)
		}
	})
}

func TestVerifyFindsTampering(t *testing.T) {
	cases := []struct {
		name    string
		stmts   []string
		seq     int64
		problem string
	}{
		{"edited reason", []string{`UPDATE audit_log SET reason = 'routine check' WHERE seq = 3`}, 3, "hash does not match"},
		{"edited and rehashed", []string{`UPDATE audit_log SET hash = 'f00d' WHERE seq = 3`}, 3, "hash does not match"},
		{"edited time", []string{`UPDATE audit_log SET at = at + 1 WHERE seq = 5`}, 5, "hash does not match"},
		{"removed middle", []string{`DELETE FROM audit_log WHERE seq = 4`}, 4, "entry missing"},
		{"removed last", []string{`DELETE FROM audit_log WHERE seq = 6`}, 6, "missing at the end"},
		{"removed last and head moved back", []string{`DELETE FROM audit_log WHERE seq = 6`,
			`UPDATE audit_head SET seq = 5, hash = 'cafe' WHERE id = 1`}, 5, "head hash"},
		{"inserted past head", []string{`INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_id, reason, client_addr, details, prev_hash, hash)
				VALUES (7, 0, 'user', 'x', 'x.y', '', '', '', '{}', 'a', 'b')`}, 7, "past the head"},
		{"relinked", []string{`UPDATE audit_log SET prev_hash = 'beef' WHERE seq = 2`}, 2, "prev_hash"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Engines(t, func(t *testing.T, d *db.DB) {
				for i := 0; i < 6; i++ {
					appendOne(t, d, freeze(i))
				}
				dropGuards(t, d)
				for _, s := range c.stmts {
					if _, err := d.W.ExecContext(ctx, s); err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
				rep := mustVerify(t, d)
				if rep.OK() || rep.Break.Seq != c.seq || !strings.Contains(rep.Break.Problem, c.problem) {
					t.Fatalf("want break at %d (%s), got %+v %v", c.seq, c.problem, rep, rep.Break)
				}
				if rep.Break.Expected == rep.Break.Got {
					t.Fatalf("break without a difference: %v", rep.Break)
				}
			})
		})
	}
}

func TestComputeHashIsUnambiguous(t *testing.T) {
	a := audit.Record{Seq: 1, ActorKind: "user", ActorID: "ab", Action: "c.d", Details: []byte("{}"), PrevHash: audit.GenesisHash}
	b := a
	b.ActorID, b.Action = "a", "bc.d" // same concatenation, different fields
	if audit.ComputeHash(a) == audit.ComputeHash(b) {
		t.Fatal("shifting bytes between fields kept the hash")
	}
	if len(audit.ComputeHash(a)) != 64 {
		t.Fatal("not hex SHA-256")
	}
}
