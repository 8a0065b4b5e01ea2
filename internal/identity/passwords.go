package identity

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. Hashes record the parameters they were
// made with, so raising them later still verifies old hashes (and sign-in rehashes).
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
}

// DefaultArgon2 follows RFC 9106's second recommended option scaled for a server that
// signs many people in at once: 64 MiB, 2 passes, 2 lanes — about 50–100 ms per hash.
var DefaultArgon2 = Argon2Params{MemoryKiB: 64 * 1024, Iterations: 2, Parallelism: 2, SaltLen: 16, KeyLen: 32}

// TestArgon2 is deliberately cheap so test suites that sign in hundreds of times stay fast.
// Never use it in production.
var TestArgon2 = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

const (
	minPasswordLen = 8
	maxPasswordLen = 128
)

// hashPassword returns a PHC-format argon2id string.
func hashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(rand.Reader, salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkPassword reports whether pw matches the encoded hash, and whether the hash was made
// with parameters other than want (so the caller can rehash on a successful sign-in).
func checkPassword(pw, encoded string, want Argon2Params) (ok, stale bool, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, false, fmt.Errorf("check password: unknown hash format")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, false, fmt.Errorf("check password: unsupported argon2 version %q", parts[2])
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return false, false, fmt.Errorf("check password: parameters: %w", err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, false, fmt.Errorf("check password: salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, false, fmt.Errorf("check password: key: %w", err)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	got := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, p != want, nil
}

// The common-password list: the 30,000 most common passwords from zxcvbn 4.4.2
// (MIT licence; see passwords/NOTICE), one per line, gzip-compressed.
//
//go:embed passwords/common.txt.gz
var commonGz []byte

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

func commonPasswords() map[string]struct{} {
	commonOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(commonGz))
		if err != nil {
			panic("identity: embedded password list: " + err.Error())
		}
		set := make(map[string]struct{}, 30000)
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			if w := strings.TrimSpace(sc.Text()); w != "" {
				set[strings.ToLower(w)] = struct{}{}
			}
		}
		if err := sc.Err(); err != nil {
			panic("identity: embedded password list: " + err.Error())
		}
		commonSet = set
	})
	return commonSet
}

// CommonPasswordCount is the size of the embedded list (for tests and the docs).
func CommonPasswordCount() int { return len(commonPasswords()) }

// isCommonPassword also strips symbols and spaces before looking up, because our
// composition rule makes people decorate a common password ("qwerty123!") and the
// decoration adds almost nothing against a guesser who knows the rule.
func isCommonPassword(pw string) bool {
	set := commonPasswords()
	l := strings.ToLower(pw)
	if _, ok := set[l]; ok {
		return true
	}
	stripped := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, l)
	_, ok := set[stripped]
	return ok
}

// CheckPassword applies the platform's password rule: 8–128 characters with letters,
// digits and a symbol, not a common password, not containing the email's local part.
// It returns validation_failed with field "password" and one of password_length,
// password_classes, password_common, password_contains_email; nil when acceptable.
func CheckPassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	if n < minPasswordLen || n > maxPasswordLen {
		return invalid("password", FieldPasswordLength)
	}
	var letter, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsSpace(r):
			// Spaces are allowed (passphrases) but do not count as the symbol.
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			symbol = true
		}
	}
	if !letter || !digit || !symbol {
		return invalid("password", FieldPasswordClasses)
	}
	if isCommonPassword(pw) {
		return invalid("password", FieldPasswordCommon)
	}
	if local, _, ok := strings.Cut(email, "@"); ok {
		local = strings.ToLower(strings.TrimSpace(local))
		// Very short local parts ("a@x.cn") would forbid too much for no security gain.
		if utf8.RuneCountInString(local) >= 3 && strings.Contains(strings.ToLower(pw), local) {
			return invalid("password", FieldPasswordEmail)
		}
	}
	return nil
}
