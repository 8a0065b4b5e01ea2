package wallet

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"okpay/internal/apperr"
	"okpay/internal/db"
	"okpay/internal/identity"
	"okpay/internal/money"
)

// Flow is a kind of movement with its own limit counters.
type Flow string

const (
	// FlowSend counts money a user sends: transfers, paid requests, checkout payments.
	FlowSend Flow = "send"
	// FlowWithdraw counts withdrawals to cards.
	FlowWithdraw Flow = "withdraw"
	// FlowTopUp counts top-ups from cards.
	FlowTopUp Flow = "top_up"
)

// toLimit converts minor units of asset into minor units of the limit asset, rounding up
// so a conversion never lets anything slip under a limit. Errors: currency_not_supported,
// amount_invalid (too large).
func (s *Service) toLimit(asset string, minor int64) (int64, error) {
	r, ok := s.cfg.Rates[asset]
	if !ok {
		return 0, apperr.New(apperr.CodeCurrencyUnsupported)
	}
	// big.Int: minor × Num overflows int64 for large crypto amounts.
	n := new(big.Int).Mul(big.NewInt(minor), big.NewInt(r.Num))
	d := big.NewInt(r.Den)
	q, m := new(big.Int).QuoRem(n, d, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		a, _ := money.Lookup(asset)
		return 0, apperr.New(apperr.CodeAmountInvalid).With("scale", fmt.Sprint(a.Scale))
	}
	return q.Int64(), nil
}

func periods(now time.Time) (day, month string) {
	// Limits reset at midnight China Standard Time: the platform's home market.
	t := now.In(cst)
	return "d:" + t.Format("2006-01-02"), "m:" + t.Format("2006-01")
}

var cst = time.FixedZone("CST", 8*3600)

func userLevel(ctx context.Context, tx *db.Tx, userID string) (int, error) {
	var level int
	err := tx.QueryRowCached(ctx, `SELECT level FROM users WHERE id = $1`, userID).Scan(&level)
	if db.IsNoRows(err) {
		return 0, apperr.New(apperr.CodeNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("load level: %w", err)
	}
	return level, nil
}

// useLimit counts amountMinor of asset against userID's daily and monthly limits of flow,
// inside tx: the counter rows are updated only while they stay within the limit, so
// concurrent movements serialise on the row and can never jointly exceed it. When tx rolls
// back, the usage goes with it.
//
// Errors: limit_exceeded (params remaining, period), not_found.
func (s *Service) useLimit(ctx context.Context, tx *db.Tx, userID string, flow Flow, asset string, amountMinor int64) error {
	level, err := userLevel(ctx, tx, userID)
	if err != nil {
		return err
	}
	return s.useLimitAt(ctx, tx, userID, level, flow, asset, amountMinor)
}

// useLimitAt is useLimit for a user whose level was read in tx.
func (s *Service) useLimitAt(ctx context.Context, tx *db.Tx, userID string, level int, flow Flow, asset string, amountMinor int64) error {
	v, err := s.toLimit(asset, amountMinor)
	if err != nil {
		return err
	}
	lim := s.id.LimitsFor(level)
	pct, ok := s.cfg.FlowLimits[flow]
	if !ok {
		pct = 100
	}
	daily, monthly := lim.DailyMinor*pct/100, lim.MonthlyMinor*pct/100
	day, month := periods(tx.Now)
	for _, p := range []struct {
		period, name, zh string
		limit            int64
	}{{day, "daily", "每日", daily}, {month, "monthly", "每月", monthly}} {
		// One statement per period: create the counter with v, or add v to it, only
		// while the result stays within the limit (the conflict update locks the row on
		// PostgreSQL, so concurrent movements serialise on it). No row changed = over.
		r, err := tx.ExecCached(ctx, `INSERT INTO wallet_usage (user_id, flow, period, used)
			SELECT $1, $2, $3, CAST($4 AS BIGINT) WHERE CAST($4 AS BIGINT) <= CAST($5 AS BIGINT)
			ON CONFLICT (user_id, flow, period) DO UPDATE SET used = wallet_usage.used + excluded.used
			WHERE wallet_usage.used + excluded.used <= CAST($5 AS BIGINT)`, userID, string(flow), p.period, v, p.limit)
		if err != nil {
			return fmt.Errorf("count limit: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("count limit: %w", err)
		} else if n == 1 {
			continue
		}
		var used int64
		err = tx.QueryRowCached(ctx, `SELECT used FROM wallet_usage WHERE user_id = $1 AND flow = $2 AND period = $3`,
			userID, string(flow), p.period).Scan(&used)
		if err != nil && !db.IsNoRows(err) {
			return fmt.Errorf("read limit: %w", err)
		}
		left := max(p.limit-used, 0)
		return apperr.New(CodeLimitExceeded).With("remaining", s.fromLimitString(left, asset)).
			With("period", p.name).With("period_zh", p.zh).With("remaining_minor", fmt.Sprint(left)).With("level", fmt.Sprint(level))
	}
	return nil
}

// fromLimitString shows what is left in the limit asset, and in asset when it differs.
func (s *Service) fromLimitString(limitMinor int64, asset string) string {
	out := formatMinor(limitMinor, s.cfg.LimitAsset)
	if asset != s.cfg.LimitAsset {
		r := s.cfg.Rates[asset]
		// floor: what can still be sent in asset without crossing the limit.
		q := new(big.Int).Quo(new(big.Int).Mul(big.NewInt(limitMinor), big.NewInt(r.Den)), big.NewInt(r.Num))
		if q.IsInt64() {
			out += " (≈ " + formatMinor(q.Int64(), asset) + ")"
		}
	}
	return out
}

// needStepUp asks identity for a recent step-up when the movement is at or above the
// threshold. Errors: step_up_required, unauthenticated.
func (s *Service) needStepUp(ctx context.Context, tx *db.Tx, sessionID, asset string, amountMinor int64) error {
	v, err := s.toLimit(asset, amountMinor)
	if err != nil {
		return err
	}
	if v < s.cfg.StepUpMinor {
		return nil
	}
	if sessionID == "" {
		return apperr.New(identity.CodeStepUpRequired)
	}
	_, err = s.id.RequireStepUp(ctx, tx, sessionID)
	return err
}

// LimitsUsed implements identity.UsageSource: what userID has sent today and this month,
// in minor units of asset (the limit table's asset). Errors: internal only.
func (s *Service) LimitsUsed(ctx context.Context, userID, asset string) (dailyMinor, monthlyMinor int64, err error) {
	if asset != s.cfg.LimitAsset {
		return 0, 0, fmt.Errorf("wallet: limits are counted in %s, not %s", s.cfg.LimitAsset, asset)
	}
	err = s.read(ctx, "limits used", func(tx *db.Tx) error {
		day, month := periods(tx.Now)
		for _, p := range []struct {
			period string
			dst    *int64
		}{{day, &dailyMinor}, {month, &monthlyMinor}} {
			err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(used), 0) FROM wallet_usage WHERE user_id = $1 AND period = $2 AND flow = $3`,
				userID, p.period, string(FlowSend)).Scan(p.dst)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return
}

var _ identity.UsageSource = (*Service)(nil)

// Usage is one flow's limit and what is used of it, for the limits page.
type Usage struct {
	Flow         Flow   `json:"flow"`
	Asset        string `json:"asset"`
	DailyLimit   int64  `json:"daily_limit_minor"`
	DailyUsed    int64  `json:"daily_used_minor"`
	MonthlyLimit int64  `json:"monthly_limit_minor"`
	MonthlyUsed  int64  `json:"monthly_used_minor"`
}

// Limits returns every flow's limits and usage for userID.
//
// Errors: not_found.
func (s *Service) Limits(ctx context.Context, userID string) ([]Usage, error) {
	var out []Usage
	err := s.read(ctx, "limits", func(tx *db.Tx) error {
		level, err := userLevel(ctx, tx, userID)
		if err != nil {
			return err
		}
		lim := s.id.LimitsFor(level)
		day, month := periods(tx.Now)
		for _, f := range []Flow{FlowSend, FlowWithdraw, FlowTopUp} {
			pct, ok := s.cfg.FlowLimits[f]
			if !ok {
				pct = 100
			}
			u := Usage{Flow: f, Asset: s.cfg.LimitAsset, DailyLimit: lim.DailyMinor * pct / 100, MonthlyLimit: lim.MonthlyMinor * pct / 100}
			for _, p := range []struct {
				period string
				dst    *int64
			}{{day, &u.DailyUsed}, {month, &u.MonthlyUsed}} {
				err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(used), 0) FROM wallet_usage WHERE user_id = $1 AND period = $2 AND flow = $3`,
					userID, p.period, string(f)).Scan(p.dst)
				if err != nil {
					return err
				}
			}
			out = append(out, u)
		}
		return nil
	})
	return out, err
}

var _ = money.Supported
