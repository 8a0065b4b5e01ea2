package troubleshoot

import (
	"context"
	"time"

	"okpay/internal/support/notice"
)

// NoticeSource reads maintenance windows from the notice service.
type NoticeSource struct {
	N *notice.Service
}

// MaintenanceUntil implements Maintenance.
func (ns NoticeSource) MaintenanceUntil(ctx context.Context) (time.Time, error) {
	if ns.N == nil {
		return time.Time{}, nil
	}
	w, err := ns.N.MaintenanceNow(ctx)
	if err != nil || w == nil {
		return time.Time{}, err
	}
	return w.EndsAt, nil
}
