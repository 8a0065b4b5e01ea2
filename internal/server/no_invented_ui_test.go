package server_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"okpay/internal/apperr"
	_ "okpay/internal/server" // registers every package's codes
)

// OKPay has no "Settings" page: error fixes and security emails that sent people to
// "Settings › Security › Unfreeze" pointed at a menu that does not exist. The real places
// are the header's Security and Account › Account status.
func TestNoInventedSettingsMenu(t *testing.T) {
	bad := []string{"Settings", "在 设置 ›", "前往 设置 ›", "在设置中"} // 安全设置 (Security) is real
	for _, d := range apperr.Catalog() {
		for _, s := range []string{d.Message.En, d.Message.Zh, d.Fix.En, d.Fix.Zh} {
			for _, b := range bad {
				if strings.Contains(s, b) {
					t.Errorf("%s: %q names a %q menu that does not exist", d.Code, s, b)
				}
			}
		}
	}
	err := filepath.WalkDir("../identity/mail", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, b := range bad {
			if strings.Contains(string(raw), b) {
				t.Errorf("%s names a %q menu that does not exist", path, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
