package identity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/money"
)

// LevelLimits are the money limits of one identity level, in minor units of Asset; the
// wallet converts other assets to it ("or equivalent") and enforces them.
type LevelLimits struct {
	Level        int    `json:"level"`
	Asset        string `json:"asset"`
	DailyMinor   int64  `json:"daily_minor"`
	MonthlyMinor int64  `json:"monthly_minor"`
}

// LimitTable holds one row per level, 0, 1 and 2, in order.
type LimitTable []LevelLimits

// DefaultLimits: level 0 (email verified) 1,000 / 5,000 CNY a day / month; level 1 (real
// name) 20,000 / 100,000; level 2 (document reviewed) 200,000 / 1,000,000.
func DefaultLimits() LimitTable {
	return LimitTable{
		{Level: 0, Asset: "CNY", DailyMinor: 1_000_00, MonthlyMinor: 5_000_00},
		{Level: 1, Asset: "CNY", DailyMinor: 20_000_00, MonthlyMinor: 100_000_00},
		{Level: 2, Asset: "CNY", DailyMinor: 200_000_00, MonthlyMinor: 1_000_000_00},
	}
}

// MaxLevel is the highest identity level.
const MaxLevel = 2

func (t LimitTable) validate() error {
	if len(t) != MaxLevel+1 {
		return fmt.Errorf("limit table needs levels 0..%d, has %d rows", MaxLevel, len(t))
	}
	for i, l := range t {
		if l.Level != i {
			return fmt.Errorf("limit table row %d is for level %d", i, l.Level)
		}
		if _, ok := money.Lookup(l.Asset); !ok {
			return fmt.Errorf("limit table level %d: unknown asset %q", i, l.Asset)
		}
		if l.DailyMinor < 0 || l.MonthlyMinor < l.DailyMinor {
			return fmt.Errorf("limit table level %d: need 0 <= daily <= monthly", i)
		}
		if i > 0 && (l.DailyMinor < t[i-1].DailyMinor || l.MonthlyMinor < t[i-1].MonthlyMinor) {
			return fmt.Errorf("limit table level %d: limits must not fall as the level rises", i)
		}
	}
	return nil
}

// LimitsFor returns the limits of a level (the wallet's hook for enforcement).
func (s *Service) LimitsFor(level int) LevelLimits {
	if level < 0 {
		level = 0
	}
	if level > MaxLevel {
		level = MaxLevel
	}
	return s.cfg.Levels[level]
}

// UsageSource reports how much of their limits a user has used; the wallet implements it.
type UsageSource interface {
	LimitsUsed(ctx context.Context, userID, asset string) (dailyMinor, monthlyMinor int64, err error)
}

// Identity document types for level 1.
const (
	IDTypeCNResident = "cn_resident"
	IDTypePassport   = "passport"
)

// IdentityInput is the level-1 form.
type IdentityInput struct {
	RealName  string `json:"real_name"`
	IDType    string `json:"id_type"`
	IDNumber  string `json:"id_number"`
	BirthDate string `json:"birth_date"` // YYYY-MM-DD
}

// IdentityProfile is what is shown back: the number only masked.
type IdentityProfile struct {
	RealName    string    `json:"real_name"`
	IDType      string    `json:"id_type"`
	IDMasked    string    `json:"id_number_masked"`
	BirthDate   string    `json:"birth_date"`
	SubmittedAt time.Time `json:"submitted_at"`
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// cnProvinces are the first two digits of valid resident ID numbers (GB/T 2260 provinces,
// plus 71/81/82/83 for Taiwan, Hong Kong, Macao residence permits).
var cnProvinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true, "21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// ValidCNResidentID checks an 18-character mainland resident ID number: province code,
// a real date of birth, and the ISO 7064 MOD 11-2 check character. It returns the
// birth date it encodes.
func ValidCNResidentID(id string) (birth time.Time, ok bool) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if len(id) != 18 || !cnProvinces[id[:2]] {
		return time.Time{}, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if id[i] < '0' || id[i] > '9' {
			return time.Time{}, false
		}
		sum += int(id[i]-'0') * idWeights[i]
	}
	if idCheckChars[sum%11] != id[17] {
		return time.Time{}, false
	}
	b, err := time.Parse("20060102", id[6:14])
	if err != nil {
		return time.Time{}, false
	}
	return b, true
}

// ValidPassportNumber is a generic check (ICAO 9303: up to 9 letters and digits); it
// cannot know every country's pattern, and the level-2 review sees the document itself.
func ValidPassportNumber(n string) bool {
	n = strings.ToUpper(strings.TrimSpace(n))
	if len(n) < 6 || len(n) > 9 {
		return false
	}
	digits := 0
	for _, r := range n {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r >= 'A' && r <= 'Z':
		default:
			return false
		}
	}
	return digits > 0
}

func maskID(n string) string {
	if len(n) <= 6 {
		return strings.Repeat("*", len(n))
	}
	return n[:3] + strings.Repeat("*", len(n)-7) + n[len(n)-4:]
}

// SubmitIdentity records real name, ID number and date of birth and raises the account to
// level 1. It needs a verified email (level 0). The ID number is stored sealed; only a
// masked form is ever shown. Once level 2 is granted the details are fixed.
//
// Errors: validation_failed (real_name: real_name_invalid; id_type: id_type_invalid;
// id_number: id_number_invalid; birth_date: birth_date_invalid, birth_date_mismatch),
// not_found, email_not_verified, level_requirement (already level 2: contact support).
func (s *Service) SubmitIdentity(ctx context.Context, userID string, in IdentityInput, c Client) (*IdentityProfile, error) {
	e := apperr.New(apperr.CodeValidation)
	name := strings.Join(strings.Fields(in.RealName), " ")
	if !validName(name) {
		e.Field("real_name", FieldRealNameInvalid)
	}
	num := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(in.IDNumber), " ", ""))
	birth, berr := time.Parse("2006-01-02", strings.TrimSpace(in.BirthDate))
	if berr != nil {
		e.Field("birth_date", FieldBirthDateInvalid)
	}
	switch in.IDType {
	case IDTypeCNResident:
		if b, ok := ValidCNResidentID(num); !ok {
			e.Field("id_number", FieldIDNumberInvalid)
		} else if berr == nil && !b.Equal(birth) {
			e.Field("birth_date", FieldBirthDateMismatch)
		}
	case IDTypePassport:
		if !ValidPassportNumber(num) {
			e.Field("id_number", FieldIDNumberInvalid)
		}
	default:
		e.Field("id_type", FieldIDTypeInvalid)
	}
	var out IdentityProfile
	err := s.inTx(ctx, "submit identity", func(tx *db.Tx) error {
		if berr == nil && (birth.Year() < 1900 || birth.AddDate(18, 0, 0).After(tx.Now)) {
			e.Field("birth_date", FieldBirthDateInvalid)
		}
		if len(e.Fields) > 0 {
			return e
		}
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt == 0 {
			return apperr.New(CodeEmailNotVerified)
		}
		if u.Level >= 2 {
			return apperr.New(CodeLevelRequirement).With("level", "2")
		}
		now := tx.NowMicros()
		out = IdentityProfile{RealName: name, IDType: in.IDType, IDMasked: maskID(num), BirthDate: birth.Format("2006-01-02"), SubmittedAt: tx.Now}
		_, err = tx.ExecContext(ctx, `INSERT INTO identity_profiles (user_id, real_name, id_type, id_number_sealed, id_number_masked, birth_date, submitted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO UPDATE SET real_name = excluded.real_name, id_type = excluded.id_type,
			id_number_sealed = excluded.id_number_sealed, id_number_masked = excluded.id_number_masked, birth_date = excluded.birth_date,
			submitted_at = excluded.submitted_at`,
			u.ID, name, in.IDType, s.seal([]byte(num), "idnum:"+u.ID), out.IDMasked, out.BirthDate, now)
		if err != nil {
			return fmt.Errorf("store identity: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET level = 1, updated_at = $1 WHERE id = $2 AND level < 1`, now, u.ID); err != nil {
			return fmt.Errorf("raise level: %w", err)
		}
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "identity.level1", Subject: u.ID, ClientAddr: c.IP,
			Details: map[string]string{"id_type": in.IDType}})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// GetIdentity returns the user's level-1 details (masked), or not_found before submission.
//
// Errors: not_found.
func (s *Service) GetIdentity(ctx context.Context, userID string) (*IdentityProfile, error) {
	var p IdentityProfile
	err := s.read(ctx, "get identity", func(tx *db.Tx) error {
		var at int64
		err := tx.QueryRowContext(ctx, `SELECT real_name, id_type, id_number_masked, birth_date, submitted_at FROM identity_profiles WHERE user_id = $1`,
			userID).Scan(&p.RealName, &p.IDType, &p.IDMasked, &p.BirthDate, &at)
		if db.IsNoRows(err) {
			return notFound()
		}
		p.SubmittedAt = db.Micros(at)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Document kinds for level 2.
var documentKinds = map[string]bool{"id_front": true, "id_back": true, "passport": true, "selfie": true}

var documentTypes = map[string]bool{"image/jpeg": true, "image/png": true, "application/pdf": true}

const maxDocumentBytes = 10 << 20

// Document statuses.
const (
	DocPending  = "pending"
	DocApproved = "approved"
	DocRejected = "rejected"
)

// DocumentInput is the metadata of an uploaded ID document; the bytes are in file storage
// under StorageRef (the upload handler stores them and passes the reference).
type DocumentInput struct {
	Kind        string `json:"kind"`
	StorageRef  string `json:"storage_ref"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
	SHA256      string `json:"sha256"`
}

// Document is an uploaded ID document and its review.
type Document struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id"`
	Kind         string    `json:"kind"`
	StorageRef   string    `json:"-"`
	ContentType  string    `json:"content_type"`
	SizeBytes    int64     `json:"size_bytes"`
	Status       string    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	ReviewedAt   time.Time `json:"reviewed_at,omitzero"`
	ReviewReason string    `json:"review_reason,omitempty"`
}

const documentCols = `id, user_id, kind, storage_ref, content_type, size_bytes, status, created_at, reviewed_at, review_reason`

func scanDocument(sc scanner) (*Document, error) {
	var d Document
	var created, reviewed int64
	if err := sc.Scan(&d.ID, &d.UserID, &d.Kind, &d.StorageRef, &d.ContentType, &d.SizeBytes, &d.Status, &created, &reviewed, &d.ReviewReason); err != nil {
		return nil, err
	}
	d.CreatedAt, d.ReviewedAt = db.Micros(created), timeOrZero(reviewed)
	return &d, nil
}

// SubmitDocument records an uploaded ID document for level-2 review. It needs level 1.
//
// Errors: validation_failed (document: document_invalid), not_found, level_requirement
// (param level = 1).
func (s *Service) SubmitDocument(ctx context.Context, userID string, in DocumentInput, c Client) (*Document, error) {
	if !documentKinds[in.Kind] || !documentTypes[in.ContentType] || in.SizeBytes <= 0 || in.SizeBytes > maxDocumentBytes ||
		in.StorageRef == "" || len(in.StorageRef) > 500 || len(in.SHA256) != 64 {
		return nil, invalid("document", FieldDocumentInvalid)
	}
	var out *Document
	err := s.inTx(ctx, "submit document", func(tx *db.Tx) error {
		u, err := loadUser(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.Level < 1 {
			return apperr.New(CodeLevelRequirement).With("level", "1")
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM identity_documents WHERE user_id = $1 AND status = $2`, u.ID, DocPending).Scan(&pending); err != nil {
			return err
		}
		if pending >= 10 {
			// Bound the review queue per person; more uploads than this is a client bug or abuse.
			return apperr.New(apperr.CodeRateLimited).With("retry_after", "3600")
		}
		d := &Document{ID: newID(), UserID: u.ID, Kind: in.Kind, StorageRef: in.StorageRef, ContentType: in.ContentType,
			SizeBytes: in.SizeBytes, Status: DocPending, CreatedAt: tx.Now}
		_, err = tx.ExecContext(ctx, `INSERT INTO identity_documents (id, user_id, kind, storage_ref, content_type, size_bytes, sha256, status, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, d.ID, d.UserID, d.Kind, d.StorageRef, d.ContentType, d.SizeBytes,
			strings.ToLower(in.SHA256), d.Status, tx.NowMicros())
		if err != nil {
			return fmt.Errorf("insert document: %w", err)
		}
		out = d
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: ActorUser, ActorID: u.ID, Action: "identity.document_submit", Subject: u.ID,
			ClientAddr: c.IP, Details: map[string]string{"document": d.ID, "kind": d.Kind}})
	})
	return out, err
}

// ListDocuments returns the user's own documents, newest first.
//
// Errors: none besides internal ones.
func (s *Service) ListDocuments(ctx context.Context, userID string) ([]Document, error) {
	var out []Document
	err := s.read(ctx, "list documents", func(tx *db.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+documentCols+` FROM identity_documents WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDocument(rows)
			if err != nil {
				return err
			}
			out = append(out, *d)
		}
		return rows.Err()
	})
	return out, err
}

// PendingDocuments is the review queue, oldest first, at most limit (1..100) entries.
//
// Errors: unauthenticated, forbidden.
func (s *Service) PendingDocuments(ctx context.Context, agentID string, limit int) ([]Document, error) {
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	var out []Document
	err := s.read(ctx, "pending documents", func(tx *db.Tx) error {
		if _, err := s.requireRole(ctx, tx, agentID, PermReviewDocuments); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+documentCols+` FROM identity_documents WHERE status = $1 ORDER BY created_at LIMIT $2`, DocPending, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDocument(rows)
			if err != nil {
				return err
			}
			out = append(out, *d)
		}
		return rows.Err()
	})
	return out, err
}

// ReviewDocument approves (raising the owner to level 2) or rejects (reason required, shown
// to the owner) a pending document.
//
// Errors: validation_failed (reason: required), unauthenticated, forbidden, not_found,
// review_conflict (already reviewed).
func (s *Service) ReviewDocument(ctx context.Context, agentID, documentID string, approve bool, reason string, c Client) (*Document, error) {
	if !approve && reason == "" {
		return nil, required("reason")
	}
	var out *Document
	err := s.inTx(ctx, "review document", func(tx *db.Tx) error {
		a, err := s.requireRole(ctx, tx, agentID, PermReviewDocuments)
		if err != nil {
			return err
		}
		d, err := scanDocument(tx.QueryRowContext(ctx, `SELECT `+documentCols+` FROM identity_documents WHERE id = $1 `+tx.Dialect.ForUpdate(), documentID))
		if err != nil {
			if db.IsNoRows(err) {
				return notFound()
			}
			return fmt.Errorf("load document: %w", err)
		}
		if d.UserID == a.ID {
			// Nobody reviews their own papers.
			return forbidden()
		}
		if d.Status != DocPending {
			return apperr.New(CodeReviewConflict)
		}
		d.Status = DocRejected
		if approve {
			d.Status = DocApproved
		}
		d.ReviewedAt, d.ReviewReason = tx.Now, reason
		if _, err := tx.ExecContext(ctx, `UPDATE identity_documents SET status = $1, reviewed_at = $2, reviewer_id = $3, review_reason = $4 WHERE id = $5`,
			d.Status, tx.NowMicros(), a.ID, reason, d.ID); err != nil {
			return fmt.Errorf("review document: %w", err)
		}
		if approve {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET level = 2, updated_at = $1 WHERE id = $2 AND level < 2`, tx.NowMicros(), d.UserID); err != nil {
				return fmt.Errorf("raise level: %w", err)
			}
		}
		out = d
		return s.fx.audit(ctx, tx, auditEntry{ActorKind: a.Role.actorKind(), ActorID: a.ID, Action: "identity.document_" + d.Status,
			Subject: d.UserID, Reason: reason, ClientAddr: c.IP, Details: map[string]string{"document": d.ID, "approve": strconv.FormatBool(approve)}})
	})
	return out, err
}
