package tickets

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"okpay/internal/apperr"
)

// Upload is one file a customer or agent attaches. R is read at most MaxAttachmentBytes+1
// bytes; Name is only for display (it never chooses a path or the type).
type Upload struct {
	Name string
	R    io.Reader
}

// sniff decides a file's type from its first bytes. The name and the Content-Type the
// client sent are ignored: both are the sender's claim, and a browser trusting a claimed
// image/png for an HTML file is how stored files become stored XSS.
func sniff(b []byte) (ctype, ext string, ok bool) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", ".png", true
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		return "image/jpeg", ".jpg", true
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf", ".pdf", true
	}
	return "", "", false
}

// checked is an upload that passed the checks, held in memory until stored.
type checked struct {
	name, ctype, ext, sum string
	data                  []byte
}

// checkUploads reads and checks every upload and reports every bad file at once, each as a
// field error "attachments.<index>", so a form can say which file is wrong and why.
func checkUploads(ups []Upload) ([]checked, error) {
	if len(ups) > MaxAttachments {
		return nil, fieldErr("attachments", CodeTooManyAttachments)
	}
	var bad *apperr.Error
	out := make([]checked, 0, len(ups))
	for i, u := range ups {
		field := "attachments." + strconv.Itoa(i)
		fail := func(code string) {
			if bad == nil {
				bad = apperr.New(apperr.CodeValidation)
			}
			bad.Field(field, code)
		}
		data, err := io.ReadAll(io.LimitReader(u.R, MaxAttachmentBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read attachment %d: %w", i, err)
		}
		switch {
		case len(data) == 0:
			fail(CodeAttachmentEmpty)
			continue
		case len(data) > MaxAttachmentBytes:
			fail(CodeAttachmentTooLarge)
			continue
		}
		ctype, ext, ok := sniff(data)
		if !ok {
			fail(CodeAttachmentType)
			continue
		}
		sum := sha256.Sum256(data)
		out = append(out, checked{name: cleanFileName(u.Name, ext), ctype: ctype, ext: ext, sum: hex.EncodeToString(sum[:]), data: data})
	}
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// cleanFileName keeps a display name printable and short, with the extension of the type
// the content really has (ext; the name's own when ext is ""); it is shown to people,
// never used as a path.
func cleanFileName(name, ext string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) || strings.ContainsRune(`"/\<>:|?*`, r) {
			return '_'
		}
		return r
	}, name)
	if ext == "" {
		// A refused file keeps its own extension in messages: it says what was sent.
		ext = filepath.Ext(name)
	}
	name = strings.TrimSuffix(name, filepath.Ext(name))
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "_")
	}
	if r := []rune(name); len(r) > MaxFileNameRunes {
		name = string(r[:MaxFileNameRunes])
	}
	if name == "" || name == "." {
		name = "attachment"
	}
	return name + ext
}

// Store keeps attachment files in a folder of the data directory, readable only by the
// OKPay user, each under a random name: nothing a person sends chooses a path.
type Store struct {
	Dir string
}

var storageRefRE = regexp.MustCompile(`^[0-9a-f]{2}/[0-9a-f]{32}\.(png|jpg|pdf)$`)

// save writes one checked file and returns its storage reference.
func (s *Store) save(c checked) (string, error) {
	var r [16]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("attachment name: %w", err)
	}
	name := hex.EncodeToString(r[:])
	ref := name[:2] + "/" + name + c.ext
	dir := filepath.Join(s.Dir, name[:2])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store attachment: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, filepath.FromSlash(ref)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("store attachment: %w", err)
	}
	if _, err := f.Write(c.data); err != nil {
		f.Close()
		return "", fmt.Errorf("store attachment: %w", err)
	}
	// fsync before the row that points at the file commits.
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("store attachment: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("store attachment: %w", err)
	}
	return ref, nil
}

// remove deletes files whose transaction did not commit; failures only leave garbage.
func (s *Store) remove(refs []string) {
	for _, ref := range refs {
		if storageRefRE.MatchString(ref) {
			_ = os.Remove(filepath.Join(s.Dir, filepath.FromSlash(ref)))
		}
	}
}

// open returns a stored file.
func (s *Store) open(ref string) (*os.File, error) {
	if !storageRefRE.MatchString(ref) {
		return nil, fmt.Errorf("open attachment: bad reference %q", ref)
	}
	f, err := os.Open(filepath.Join(s.Dir, filepath.FromSlash(ref)))
	if err != nil {
		return nil, fmt.Errorf("open attachment: %w", err)
	}
	return f, nil
}

// saveAll stores every checked file; on failure it removes the ones already written.
func (s *Store) saveAll(cs []checked) ([]string, error) {
	refs := make([]string, 0, len(cs))
	for _, c := range cs {
		ref, err := s.save(c)
		if err != nil {
			s.remove(refs)
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// FormUploads opens the files of a parsed multipart form (the "attachments" field of the
// web form or API call) as uploads; call done when the service call has returned. Empty
// file inputs (a form sent without choosing a file) are skipped.
//
// Errors: validation_failed (attachments: ticket_too_many_attachments); a plain error
// when a file cannot be opened.
func FormUploads(fhs []*multipart.FileHeader) (ups []Upload, done func(), err error) {
	var files []multipart.File
	done = func() {
		for _, f := range files {
			f.Close()
		}
	}
	var real []*multipart.FileHeader
	for _, fh := range fhs {
		if fh.Filename != "" || fh.Size > 0 {
			real = append(real, fh)
		}
	}
	if len(real) > MaxAttachments {
		return nil, done, fieldErr("attachments", CodeTooManyAttachments)
	}
	for _, fh := range real {
		f, err := fh.Open()
		if err != nil {
			done()
			return nil, func() {}, fmt.Errorf("open uploaded file: %w", err)
		}
		files = append(files, f)
		ups = append(ups, Upload{Name: fh.Filename, R: f})
	}
	return ups, done, nil
}

// MaxFormBytes bounds a whole multipart request: one file more than allowed at full size,
// so an oversized file still reaches the per-file check and gets its own message, plus room
// for the text fields.
const MaxFormBytes = (MaxAttachments+1)*MaxAttachmentBytes + 256<<10
