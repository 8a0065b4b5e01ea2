// Package audit owns the audit log: an append-only, hash-chained record of who (a user, an
// agent, an admin or the system) did what to which account, why, when and from where. An
// entry is appended in the caller's transaction, so it commits or rolls back with the
// change it records. Verify recomputes the chain and names the first entry that does not
// match. It knows nothing of users, sessions or HTTP: callers say who and what.
//
// Every entry's hash is SHA-256 over a length-prefixed encoding of all its fields and the
// previous entry's hash, so editing, removing, reordering or inserting an entry breaks the
// chain from that point on. A one-row head table holds the newest seq and hash: appends
// lock it, which serialises them across nodes so the chain cannot fork, and Verify checks
// the chain ends there, which catches entries cut off the end. Database triggers refuse
// UPDATE and DELETE so nobody changes the log by accident; someone with the rights to drop
// the triggers can still rewrite it from the tampered entry onwards, which is why operators
// should keep the head hash Verify prints somewhere else (an external anchor).
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"okpay/internal/db"
)

// Actor kinds: who did it.
const (
	ActorUser   = "user"   // the account owner, signed in
	ActorAgent  = "agent"  // support agent or risk reviewer, in the console
	ActorAdmin  = "admin"  // operator or administrator, in the console or CLI
	ActorSystem = "system" // the platform itself: a rule, a timer, a background job
)

// GenesisHash is the prev_hash of the first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Limits on one entry. The log is kept for years; a field that can grow without bound is
// a way to fill it.
const (
	MaxIDBytes         = 128
	MaxActionBytes     = 64
	MaxReasonRunes     = 1000
	MaxClientAddrBytes = 64
	MaxDetailsBytes    = 16 << 10
)

// ErrInvalidEntry is wrapped by Append's errors for entries it refuses.
var ErrInvalidEntry = errors.New("invalid audit entry")

// Entry is what happened, as the caller reports it.
type Entry struct {
	ActorKind string // ActorUser, ActorAgent, ActorAdmin or ActorSystem
	// ActorID is the user or agent id; for ActorSystem the job or rule name (may be empty).
	ActorID string
	// Action is dotted lower case: "user.freeze", "session.revoke", "identity.level_approve".
	Action string
	// SubjectID is the account or user acted upon; empty when there is none.
	SubjectID string
	// Reason is why, in the actor's words; agents must give one for privileged actions.
	Reason string
	// ClientAddr is where the request came from (an IP address); empty for the system.
	ClientAddr string
	// Details is anything else worth keeping, marshalled with encoding/json (pass a
	// json.RawMessage to store JSON text as it is). nil stores {}. Never put a password,
	// code, token or secret here: the log is read by agents and kept for years.
	Details any
}

// Record is an entry as stored.
type Record struct {
	Seq        int64
	Time       time.Time
	ActorKind  string
	ActorID    string
	Action     string
	SubjectID  string
	Reason     string
	ClientAddr string
	Details    json.RawMessage
	PrevHash   string
	Hash       string
}

var actionRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// Append adds e to the log inside tx, chained to the newest entry, with tx's time. It
// locks the log's head until tx ends, so concurrent audited transactions queue here: call
// it late in the transaction, after the work that may fail.
//
// Errors: ErrInvalidEntry (wrapped) when e is not acceptable; otherwise internal
// (database), including a serialization failure that db.InTx retries.
func Append(ctx context.Context, tx *db.Tx, e Entry) error {
	details, err := validate(&e)
	if err != nil {
		return err
	}
	var headSeq int64
	var headHash string
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1 `+tx.Dialect.ForUpdate()).Scan(&headSeq, &headHash)
	if err != nil {
		return fmt.Errorf("audit %s: read head: %w", e.Action, err)
	}
	r := Record{Seq: headSeq + 1, Time: tx.Now, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action,
		SubjectID: e.SubjectID, Reason: e.Reason, ClientAddr: e.ClientAddr, Details: details, PrevHash: headHash}
	r.Hash = ComputeHash(r)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor_kind, actor_id, action, subject_id, reason, client_addr, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.Seq, tx.NowMicros(), r.ActorKind, r.ActorID, r.Action, r.SubjectID, r.Reason, r.ClientAddr, string(r.Details), r.PrevHash, r.Hash); err != nil {
		return fmt.Errorf("audit %s: insert entry %d: %w", e.Action, r.Seq, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3`, r.Seq, r.Hash, headSeq)
	if err != nil {
		return fmt.Errorf("audit %s: advance head: %w", e.Action, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// The head moved under a lock we hold: the locking is broken, and writing on would
		// fork the chain.
		return fmt.Errorf("audit %s: head moved while locked (rows %d, %v)", e.Action, n, err)
	}
	return nil
}

func validate(e *Entry) (json.RawMessage, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEntry, fmt.Sprintf(format, args...))
	}
	switch e.ActorKind {
	case ActorUser, ActorAgent, ActorAdmin:
		if e.ActorID == "" {
			return nil, bad("actor id is required for actor kind %s", e.ActorKind)
		}
	case ActorSystem:
	default:
		return nil, bad("actor kind %q is not user, agent, admin or system", e.ActorKind)
	}
	if len(e.Action) > MaxActionBytes || !actionRE.MatchString(e.Action) {
		return nil, bad("action %q must be dotted lower case, at most %d bytes", e.Action, MaxActionBytes)
	}
	for name, v := range map[string]string{"actor id": e.ActorID, "subject id": e.SubjectID} {
		if len(v) > MaxIDBytes || !printable(v) {
			return nil, bad("%s must be printable and at most %d bytes", name, MaxIDBytes)
		}
	}
	if len(e.ClientAddr) > MaxClientAddrBytes || !printable(e.ClientAddr) {
		return nil, bad("client address must be printable and at most %d bytes", MaxClientAddrBytes)
	}
	if !utf8.ValidString(e.Reason) || utf8.RuneCountInString(e.Reason) > MaxReasonRunes || strings.ContainsRune(e.Reason, 0) {
		return nil, bad("reason must be UTF-8 of at most %d characters", MaxReasonRunes)
	}
	details := json.RawMessage("{}")
	if e.Details != nil {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return nil, bad("details: %v", err)
		}
		details = b
	}
	if len(details) > MaxDetailsBytes {
		return nil, bad("details are %d bytes, more than %d", len(details), MaxDetailsBytes)
	}
	return details, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// hashDomain separates this encoding from any other SHA-256 use and lets a future format
// change be told apart.
const hashDomain = "okpay-audit-v1"

// ComputeHash returns the hex SHA-256 of r's canonical encoding: the domain string and then
// every field — seq, time in microseconds, actor kind, actor id, action, subject id,
// reason, client address, details, prev_hash — each as an 8-byte big-endian length and its
// bytes. Length prefixes make the encoding unambiguous: no two different records encode
// alike, whatever bytes their fields hold. r.Hash is ignored.
func ComputeHash(r Record) string {
	h := sha256.New()
	field := func(h hash.Hash, s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(h, hashDomain)
	field(h, strconv.FormatInt(r.Seq, 10))
	field(h, strconv.FormatInt(r.Time.UnixMicro(), 10))
	field(h, r.ActorKind)
	field(h, r.ActorID)
	field(h, r.Action)
	field(h, r.SubjectID)
	field(h, r.Reason)
	field(h, r.ClientAddr)
	field(h, string(r.Details))
	field(h, r.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}
