package ledger

import (
	"math"
	"time"

	"github.com/google/uuid"
)

// This file is the ledger's rules: applying transfers, in order, to account and pending
// state held in memory for one batch. It does no I/O, so the same code decides for the
// committer and for SubmitTx, and it can be tested on its own.

type acct struct {
	Account
	dirty bool
}

type pend struct {
	id, debit, credit uuid.UUID
	amount            int64
	expiresAt         int64 // µs; 0 = never
	state             int
	resolvedBy        uuid.UUID
	resolvedAt        int64
	isNew, dirty      bool
}

type undoEntry struct {
	a    *acct
	aOld Account
	aDir bool
	p    *pend
	pOld pend
	// newPending is a pending created in this batch, to forget on undo.
	newPending uuid.UUID
}

// batch is the in-memory state of one database transaction's worth of transfers.
type batch struct {
	now      int64 // µs, the transaction's "now"
	accounts map[uuid.UUID]*acct
	pendings map[uuid.UUID]*pend
	// existing holds transfers already stored (loaded for the ids in the batch) and those
	// written earlier in this batch, for idempotency.
	existing map[uuid.UUID]*Transfer
	inserts  []*Transfer
	// firstSeq is the seq given to inserts[0] on SQLite (the rest follow).
	firstSeq int64
	undo     []undoEntry
	chain    bool // recording undo entries
}

// newBatch sizes the maps for n transfers: grown from empty, their rehashing was ~5 % of
// the SQLite committer's CPU.
func newBatch(now int64, n int) *batch {
	return &batch{
		now:      now,
		accounts: make(map[uuid.UUID]*acct, 2*n),
		pendings: map[uuid.UUID]*pend{},
		existing: make(map[uuid.UUID]*Transfer, n),
		inserts:  make([]*Transfer, 0, n),
	}
}

func (b *batch) touchAccount(a *acct) {
	if b.chain {
		b.undo = append(b.undo, undoEntry{a: a, aOld: a.Account, aDir: a.dirty})
	}
	a.dirty = true
}

func (b *batch) touchPending(p *pend) {
	if b.chain {
		b.undo = append(b.undo, undoEntry{p: p, pOld: *p})
	}
	p.dirty = true
}

// rollback undoes everything recorded since the chain began, newest first.
func (b *batch) rollback(insertsMark int) {
	for i := len(b.undo) - 1; i >= 0; i-- {
		u := b.undo[i]
		switch {
		case u.a != nil:
			u.a.Account = u.aOld
			u.a.dirty = u.aDir
		case u.p != nil:
			*u.p = u.pOld
		case u.newPending != uuid.Nil:
			delete(b.pendings, u.newPending)
		}
	}
	for _, t := range b.inserts[insertsMark:] {
		delete(b.existing, t.ID)
	}
	b.inserts = b.inserts[:insertsMark]
	b.undo = b.undo[:0]
}

// applyCall applies one caller's transfers in order, honouring linked chains, and fills
// results.
func (b *batch) applyCall(ts []Transfer, results []Result) {
	n := len(ts)
	for i := 0; i < n; {
		j := i
		for j < n-1 && ts[j].Flags&Linked != 0 {
			j++
		}
		if ts[j].Flags&Linked != 0 { // the call ends inside a chain
			for k := i; k <= j; k++ {
				results[k] = Result{Code: LinkedChainOpen}
			}
			i = j + 1
			continue
		}
		if i == j {
			results[i] = b.apply(&ts[i])
			i++
			continue
		}
		mark := len(b.inserts)
		b.chain, b.undo = true, b.undo[:0]
		failed := -1
		for k := i; k <= j; k++ {
			results[k] = b.apply(&ts[k])
			if c := results[k].Code; c != OK && c != Exists {
				failed = k
				break
			}
		}
		if failed >= 0 {
			b.rollback(mark)
			for k := i; k <= j; k++ {
				if k != failed {
					results[k] = Result{Code: LinkedChainFailed}
				}
			}
		}
		b.chain, b.undo = false, b.undo[:0]
		i = j + 1
	}
}

func addOK(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// sameTransfer reports whether in, as submitted, is the transfer stored as prev. For
// post/void the accounts, asset and (post) zero amount may be left out of the submission.
func sameTransfer(prev *Transfer, in *Transfer) bool {
	if prev.Flags != in.Flags || prev.Code != in.Code || prev.Ref != in.Ref ||
		prev.PendingID != in.PendingID || prev.Timeout.Microseconds() != in.Timeout.Microseconds() {
		return false
	}
	if in.Flags&(PostPending|VoidPending) != 0 {
		return (in.DebitAccountID == uuid.Nil || in.DebitAccountID == prev.DebitAccountID) &&
			(in.CreditAccountID == uuid.Nil || in.CreditAccountID == prev.CreditAccountID) &&
			(in.Asset == "" || in.Asset == prev.Asset) &&
			(in.Amount == 0 || in.Amount == prev.Amount)
	}
	return prev.DebitAccountID == in.DebitAccountID && prev.CreditAccountID == in.CreditAccountID &&
		prev.Amount == in.Amount && prev.Asset == in.Asset
}

func validTransferFlags(t *Transfer) bool {
	if t.Flags&^transferFlagsAll != 0 {
		return false
	}
	kinds := 0
	for _, f := range []TransferFlags{Pending, PostPending, VoidPending} {
		if t.Flags&f != 0 {
			kinds++
		}
	}
	if kinds > 1 || t.Timeout < 0 || (t.Timeout != 0 && t.Flags&Pending == 0) {
		return false
	}
	if t.PendingID != uuid.Nil && t.Flags&(PostPending|VoidPending) == 0 {
		return false
	}
	return t.Timeout.Microseconds() < math.MaxInt64/4
}

// apply decides one transfer and, when OK, changes the in-memory state.
func (b *batch) apply(in *Transfer) Result {
	if in.ID == uuid.Nil {
		return Result{Code: IDInvalid}
	}
	if prev, ok := b.existing[in.ID]; ok {
		if sameTransfer(prev, in) {
			return Result{Code: Exists, CreatedAt: prev.CreatedAt}
		}
		return Result{Code: ExistsWithDifferentFields}
	}
	if !validTransferFlags(in) {
		return Result{Code: FlagsInvalid}
	}
	if len(in.Ref) > maxRefBytes {
		return Result{Code: RefTooLong}
	}
	if in.Flags&(PostPending|VoidPending) != 0 {
		return b.resolve(in)
	}
	if in.Amount <= 0 {
		return Result{Code: AmountInvalid}
	}
	if in.DebitAccountID == in.CreditAccountID {
		return Result{Code: SameAccount}
	}
	if !validAsset(in.Asset) {
		return Result{Code: AssetInvalid}
	}
	dr, cr := b.accounts[in.DebitAccountID], b.accounts[in.CreditAccountID]
	if dr == nil || cr == nil {
		return Result{Code: AccountNotFound}
	}
	if dr.Asset != in.Asset || cr.Asset != in.Asset {
		return Result{Code: AssetMismatch}
	}
	if dr.Flags&Closed != 0 || cr.Flags&Closed != 0 {
		return Result{Code: AccountClosed}
	}
	if dr.Flags&DebitsBlocked != 0 {
		return Result{Code: DebitsBlockedCode}
	}
	if cr.Flags&CreditsBlocked != 0 {
		return Result{Code: CreditsBlockedCode}
	}
	pending := in.Flags&Pending != 0
	var drSide, crSide *int64
	if pending {
		drSide, crSide = &dr.DebitsPending, &cr.CreditsPending
	} else {
		drSide, crSide = &dr.DebitsPosted, &cr.CreditsPosted
	}
	newDr, ok1 := addOK(*drSide, in.Amount)
	newCr, ok2 := addOK(*crSide, in.Amount)
	if !ok1 || !ok2 {
		return Result{Code: Overflow}
	}
	if dr.Flags&NoOverdraft != 0 {
		debits, ok := addOK(dr.DebitsPosted, dr.DebitsPending)
		if ok {
			debits, ok = addOK(debits, in.Amount)
		}
		if !ok || debits > dr.CreditsPosted {
			return Result{Code: InsufficientFunds}
		}
	}
	b.touchAccount(dr)
	b.touchAccount(cr)
	*drSide, *crSide = newDr, newCr

	t := *in
	t.Timeout = time.Duration(in.Timeout.Microseconds()) * time.Microsecond
	t.CreatedAt = time.UnixMicro(b.now).UTC()
	b.record(&t)
	if pending {
		p := &pend{id: t.ID, debit: t.DebitAccountID, credit: t.CreditAccountID, amount: t.Amount,
			state: statePending, isNew: true, dirty: true}
		if us := t.Timeout.Microseconds(); us > 0 {
			p.expiresAt = b.now + us
		}
		b.pendings[t.ID] = p
		if b.chain {
			b.undo = append(b.undo, undoEntry{newPending: t.ID})
		}
	}
	return Result{Code: OK, CreatedAt: t.CreatedAt}
}

func (b *batch) record(t *Transfer) {
	b.existing[t.ID] = t
	b.inserts = append(b.inserts, t)
}

// resolve applies a post or void of a pending transfer.
func (b *batch) resolve(in *Transfer) Result {
	p := b.pendings[in.PendingID]
	if in.PendingID == uuid.Nil || p == nil {
		return Result{Code: PendingNotFound}
	}
	dr, cr := b.accounts[p.debit], b.accounts[p.credit]
	if dr == nil || cr == nil {
		// Accounts are never deleted; a pending whose accounts were not loaded is a bug
		// in the loader, refused rather than guessed at.
		return Result{Code: AccountNotFound}
	}
	if (in.DebitAccountID != uuid.Nil && in.DebitAccountID != p.debit) ||
		(in.CreditAccountID != uuid.Nil && in.CreditAccountID != p.credit) ||
		(in.Asset != "" && in.Asset != dr.Asset) {
		return Result{Code: PendingMismatch}
	}
	switch p.state {
	case statePosted:
		return Result{Code: PendingAlreadyPosted}
	case stateVoided:
		return Result{Code: PendingAlreadyVoided}
	case stateExpired:
		return Result{Code: PendingExpired}
	}
	if p.expiresAt > 0 && b.now >= p.expiresAt {
		return Result{Code: PendingExpired}
	}
	post := in.Flags&PostPending != 0
	amount := in.Amount
	switch {
	case amount < 0:
		return Result{Code: AmountInvalid}
	case post && amount > p.amount:
		return Result{Code: PostAmountExceedsPending}
	case !post && amount != 0 && amount != p.amount:
		return Result{Code: AmountInvalid}
	case amount == 0:
		amount = p.amount
	}
	if post && (dr.Flags&Closed != 0 || cr.Flags&Closed != 0) {
		return Result{Code: AccountClosed}
	}
	var newDr, newCr int64
	if post {
		var ok1, ok2 bool
		newDr, ok1 = addOK(dr.DebitsPosted, amount)
		newCr, ok2 = addOK(cr.CreditsPosted, amount)
		if !ok1 || !ok2 {
			return Result{Code: Overflow}
		}
	}
	b.touchAccount(dr)
	b.touchAccount(cr)
	dr.DebitsPending -= p.amount
	cr.CreditsPending -= p.amount
	if post {
		dr.DebitsPosted, cr.CreditsPosted = newDr, newCr
	}
	b.touchPending(p)
	p.state = stateVoided
	if post {
		p.state = statePosted
	}
	p.resolvedBy, p.resolvedAt = in.ID, b.now

	t := *in
	t.DebitAccountID, t.CreditAccountID, t.Asset, t.Amount = p.debit, p.credit, dr.Asset, amount
	t.Timeout = 0
	t.CreatedAt = time.UnixMicro(b.now).UTC()
	b.record(&t)
	return Result{Code: OK, CreatedAt: t.CreatedAt}
}

// expire releases a pending transfer whose timeout passed (the sweep). It reports whether
// anything changed.
func (b *batch) expire(p *pend) bool {
	if p.state != statePending || p.expiresAt == 0 || b.now < p.expiresAt {
		return false
	}
	dr, cr := b.accounts[p.debit], b.accounts[p.credit]
	if dr == nil || cr == nil {
		return false
	}
	b.touchAccount(dr)
	b.touchAccount(cr)
	dr.DebitsPending -= p.amount
	cr.CreditsPending -= p.amount
	b.touchPending(p)
	p.state, p.resolvedAt = stateExpired, b.now
	return true
}
