package help

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"okpay/internal/apperr"
)

// Error codes of the help center. They are part of the API: never rename one.
const (
	CodeQueryEmpty   = "help_query_empty"
	CodeQueryTooLong = "help_query_too_long"
	CodeEditConflict = "help_edit_conflict"
	CodeNotBuiltin   = "help_not_builtin"

	// Field codes, inside validation_failed.
	FieldTitle    = "help_title_invalid"
	FieldSummary  = "help_summary_invalid"
	FieldKeywords = "help_keywords_invalid"
	FieldBody     = "help_body_invalid"
	FieldNote     = "help_note_invalid"
	FieldLang     = "help_lang_invalid"
	FieldVoter    = "help_voter_invalid"
)

// Limits. Articles are read on phones: a title longer than a line or two, or a body
// beyond a few screens, is a sign the article should be split.
const (
	MaxQueryRunes    = 100
	MaxTitleRunes    = 120
	MaxSummaryRunes  = 300
	MaxKeywordsRunes = 300
	MaxBodyBytes     = 64 << 10
	MaxNoteRunes     = 200
	MaxVoterLen      = 80
	MaxSearchResults = 50
	DefaultResults   = 10
	maxArticles      = 500 // built-in and total: lists are read whole
	maxHistory       = 100 // edits returned by one History call
)

type txt = apperr.Text

func init() {
	apperr.Register(
		apperr.Def{Code: CodeQueryEmpty, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Type what you are looking for.", Zh: "请输入要查找的内容。"},
			Fix:     txt{En: "Describe the problem in a few words, such as \"withdrawal failed\", or paste the error code you saw.", Zh: "请用几个词描述问题，例如“提现失败”，或粘贴您看到的错误代码。"}},
		apperr.Def{Code: CodeQueryTooLong, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The search is too long.", Zh: "搜索内容过长。"},
			Fix:     txt{En: "Use at most {max} characters: a few key words work best.", Zh: "请不超过 {max} 个字符，几个关键词效果最好。"}},
		apperr.Def{Code: CodeEditConflict, Status: http.StatusConflict,
			Message: txt{En: "Someone else changed this article while you were editing it.", Zh: "您编辑期间，该文章已被他人修改。"},
			Fix:     txt{En: "Reload the article (now version {version}), apply your change again and save.", Zh: "请重新加载文章（当前版本 {version}），重新修改后保存。"}},
		apperr.Def{Code: CodeNotBuiltin, Status: http.StatusConflict,
			Message: txt{En: "This article has no built-in version to go back to.", Zh: "该文章没有可恢复的内置版本。"},
			Fix:     txt{En: "Edit the article instead.", Zh: "请直接编辑文章。"}},
		apperr.Def{Code: FieldTitle, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter a title of 1 to 120 characters.", Zh: "请输入 1 到 120 个字符的标题。"}},
		apperr.Def{Code: FieldSummary, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Enter a summary of 1 to 300 characters.", Zh: "请输入 1 到 300 个字符的摘要。"}},
		apperr.Def{Code: FieldKeywords, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Keywords may be at most 300 characters.", Zh: "关键词不能超过 300 个字符。"}},
		apperr.Def{Code: FieldBody, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The article text must be valid text of 1 byte to 64 KB.", Zh: "正文须为有效文本，长度 1 字节到 64 KB。"}},
		apperr.Def{Code: FieldNote, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The change note may be at most 200 characters.", Zh: "修改说明不能超过 200 个字符。"}},
		apperr.Def{Code: FieldLang, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose zh-CN or en.", Zh: "请选择 zh-CN 或 en。"}},
		apperr.Def{Code: FieldVoter, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The visitor id is not valid.", Zh: "访客标识无效。"}},
	)
}

func invalid(field, code string) *apperr.Error {
	return apperr.New(apperr.CodeValidation).Field(field, code)
}

func queryTooLong() *apperr.Error {
	return apperr.New(CodeQueryTooLong).With("max", strconv.Itoa(MaxQueryRunes))
}

// runesIn reports whether s is valid UTF-8 of lo..hi runes without control characters
// other than newline and tab.
func runesIn(s string, lo, hi int) bool {
	if !utf8.ValidString(s) {
		return false
	}
	n := utf8.RuneCountInString(s)
	if n < lo || n > hi {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f })
}

// checkText validates an article translation's fields; built-in sources get the same
// limits as agents' edits so a long built-in article fails the tests, not a user.
func checkText(title, summary, keywords, body string) error {
	var e *apperr.Error
	add := func(field, code string) {
		if e == nil {
			e = apperr.New(apperr.CodeValidation)
		}
		e.Field(field, code)
	}
	if !runesIn(title, 1, MaxTitleRunes) || strings.Contains(title, "\n") {
		add("title", FieldTitle)
	}
	if !runesIn(summary, 1, MaxSummaryRunes) || strings.Contains(summary, "\n") {
		add("summary", FieldSummary)
	}
	if !runesIn(keywords, 0, MaxKeywordsRunes) || strings.Contains(keywords, "\n") {
		add("keywords", FieldKeywords)
	}
	if len(body) > MaxBodyBytes || strings.TrimSpace(body) == "" || !runesIn(body, 1, MaxBodyBytes) {
		add("body", FieldBody)
	}
	if e != nil {
		return e
	}
	return nil
}

// errf wraps an internal error with the operation's name.
func errf(op string, err error) error { return fmt.Errorf("help: %s: %w", op, err) }
