// Package apperr is the one error model of OKPay: a stable machine code, a message in
// zh-CN and en, an optional fix (the user's next step), field errors, and the HTTP status
// the code maps to. Domain packages register their codes here at init; the HTTP layers
// only render. It knows nothing of HTTP beyond a status number.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Text is one user-facing sentence in both supported languages.
type Text struct {
	En string `json:"en"`
	Zh string `json:"zh"`
}

// In returns the text in lang ("zh-CN"/"zh" or anything else for English).
// Placeholders of the form {name} are filled from params.
func (t Text) In(lang string, params map[string]string) string {
	s := t.En
	if strings.HasPrefix(strings.ToLower(lang), "zh") && t.Zh != "" {
		s = t.Zh
	}
	for k, v := range params {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// IsZero reports whether the text is empty in both languages.
func (t Text) IsZero() bool { return t.En == "" && t.Zh == "" }

// Def is the catalogue entry for one code.
type Def struct {
	Code    string
	Status  int
	Message Text
	Fix     Text
}

var (
	mu      sync.RWMutex
	catalog = map[string]Def{}
)

// Register adds codes to the catalogue. A code registered twice with a different definition
// is a programming error and panics at start-up, where it is cheap to notice.
func Register(defs ...Def) {
	mu.Lock()
	defer mu.Unlock()
	for _, d := range defs {
		if d.Code == "" || d.Status == 0 || d.Message.En == "" || d.Message.Zh == "" {
			panic(fmt.Sprintf("apperr: incomplete definition %+v", d))
		}
		if old, ok := catalog[d.Code]; ok && old != d {
			panic("apperr: code registered twice with different definitions: " + d.Code)
		}
		catalog[d.Code] = d
	}
}

// Lookup returns the definition of code.
func Lookup(code string) (Def, bool) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := catalog[code]
	return d, ok
}

// Catalog returns every registered definition, sorted by code.
func Catalog() []Def {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Def, 0, len(catalog))
	for _, d := range catalog {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// FieldError says what is wrong with one input field.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message Text   `json:"-"`
}

// Error is a failure a user can meet. Create it with New; never construct it with an
// unregistered code (New panics in tests through the catalogue check).
type Error struct {
	Code   string
	Params map[string]string
	Fields []FieldError
	cause  error
}

// New returns the error for a registered code.
func New(code string) *Error {
	if _, ok := Lookup(code); !ok {
		// Unknown codes would reach users without a message; fail loudly in development.
		panic("apperr: unregistered code " + code)
	}
	return &Error{Code: code}
}

// With adds a placeholder value used in the message and fix.
func (e *Error) With(key, value string) *Error {
	if e.Params == nil {
		e.Params = map[string]string{}
	}
	e.Params[key] = value
	return e
}

// Field adds a field error. The message comes from the catalogue entry of code.
func (e *Error) Field(field, code string) *Error {
	d, _ := Lookup(code)
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Message: d.Message})
	return e
}

// Wrap keeps the underlying cause for logs; it is never shown to users.
func (e *Error) Wrap(cause error) *Error { e.cause = cause; return e }

func (e *Error) Error() string {
	d, _ := Lookup(e.Code)
	msg := e.Code + ": " + d.Message.In("en", e.Params)
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// Is matches another *Error by code, so errors.Is(err, apperr.New("x")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Status is the HTTP status of the error's code.
func (e *Error) Status() int {
	d, _ := Lookup(e.Code)
	return d.Status
}

// Message and Fix in lang.
func (e *Error) Message(lang string) string {
	d, _ := Lookup(e.Code)
	return d.Message.In(lang, e.Params)
}

// Fix is the next step for the user in lang, or "" when there is none.
func (e *Error) Fix(lang string) string {
	d, _ := Lookup(e.Code)
	return d.Fix.In(lang, e.Params)
}

// As extracts the coded error from err's chain; ok is false for internal errors.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// HasCode reports whether err carries code.
func HasCode(err error, code string) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

// Body is the JSON error body every API failure returns.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of Body.
type BodyError struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fix       string            `json:"fix,omitempty"`
	Fields    []BodyField       `json:"fields,omitempty"`
	Params    map[string]string `json:"params,omitempty"`
	RequestID string            `json:"request_id"`
}

// BodyField is one field error in a Body. Fix is the field code's next step, when it has
// one, as the web pages show it next to the field.
type BodyField struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// ToBody renders err for a user in lang. Errors without a code become "internal" and say
// nothing of their cause: that goes to the log with the same request id.
func ToBody(err error, lang, requestID string) (int, Body) {
	e, ok := As(err)
	if !ok {
		e = New(CodeInternal)
	}
	b := BodyError{Code: e.Code, Message: e.Message(lang), Fix: e.Fix(lang), Params: e.Params, RequestID: requestID}
	for _, f := range e.Fields {
		bf := BodyField{Field: f.Field, Code: f.Code, Message: f.Message.In(lang, e.Params)}
		if d, ok := Lookup(f.Code); ok {
			bf.Fix = d.Fix.In(lang, e.Params)
		}
		b.Fields = append(b.Fields, bf)
	}
	return e.Status(), Body{Error: b}
}

// Codes shared by every layer.
const (
	CodeInternal         = "internal"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeBadRequest       = "bad_request"
	CodeInvalidJSON      = "invalid_json"
	CodeBodyTooLarge     = "body_too_large"
	// Field codes of invalid_json: which member of a well-formed body is wrong.
	CodeJSONFieldUnknown    = "json_field_unknown"
	CodeJSONFieldType       = "json_field_type"
	CodeValidation          = "validation_failed"
	CodeRequired            = "required"
	CodeUnauthenticated     = "unauthenticated"
	CodeForbidden           = "forbidden"
	CodeRateLimited         = "rate_limited"
	CodeCrossOrigin         = "cross_origin_refused"
	CodeUnavailable         = "unavailable"
	CodeIdempotencyConflict = "idempotency_conflict"
	CodeAmountInvalid       = "amount_invalid"
	CodeCurrencyUnsupported = "currency_not_supported"
	CodeMaintenance         = "maintenance"
)

func init() {
	Register(
		Def{CodeInternal, http.StatusInternalServerError,
			Text{"Something went wrong on our side.", "我们这边出了点问题。"},
			Text{"Try again in a minute. If it keeps happening, contact support and quote the request id.", "请稍后重试。如果问题持续，请联系客服并提供请求编号。"}},
		Def{CodeNotFound, http.StatusNotFound,
			Text{"Not found.", "未找到。"},
			Text{"Check the address, or go back to the home page.", "请检查地址，或返回首页。"}},
		Def{CodeMethodNotAllowed, http.StatusMethodNotAllowed,
			Text{"This method is not allowed here.", "此处不允许该请求方法。"},
			Text{"Check the API documentation for the allowed methods.", "请查阅 API 文档了解允许的方法。"}},
		Def{CodeBadRequest, http.StatusBadRequest,
			Text{"The request could not be understood.", "无法理解该请求。"},
			Text{"Check the request and try again.", "请检查请求后重试。"}},
		Def{CodeInvalidJSON, http.StatusBadRequest,
			Text{"The request body is not valid JSON for this call.", "请求正文不是该接口可接受的 JSON。"},
			Text{"Send a JSON object with the documented fields.", "请发送包含文档所列字段的 JSON 对象。"}},
		Def{CodeJSONFieldUnknown, http.StatusBadRequest,
			Text{"This call has no such field.", "该接口没有此字段。"},
			Text{"Check the field's spelling against the API documentation, or leave it out.", "请对照 API 文档检查字段拼写，或去掉该字段。"}},
		Def{CodeJSONFieldType, http.StatusBadRequest,
			Text{"This field has the wrong type.", "该字段的类型不对。"},
			Text{"Send it as the API documentation shows: amounts, ids and codes are strings in quotes, such as \"12.30\".", "请按 API 文档的格式发送：金额、编号和验证码都是带引号的字符串，例如 \"12.30\"。"}},
		Def{CodeBodyTooLarge, http.StatusRequestEntityTooLarge,
			Text{"The request body is too large.", "请求正文过大。"},
			Text{"Send a smaller request.", "请缩小请求内容。"}},
		Def{CodeValidation, http.StatusUnprocessableEntity,
			Text{"Some fields are not valid.", "部分字段无效。"},
			Text{"Correct the fields listed and try again.", "请修改所列字段后重试。"}},
		Def{CodeRequired, http.StatusUnprocessableEntity,
			Text{"This field is required.", "此字段为必填项。"},
			Text{"Fill it in and try again.", "请填写后重试。"}},
		Def{CodeUnauthenticated, http.StatusUnauthorized,
			Text{"You are not signed in, or your session has ended.", "您尚未登录，或会话已结束。"},
			Text{"Sign in and try again.", "请登录后重试。"}},
		Def{CodeForbidden, http.StatusForbidden,
			Text{"You are not allowed to do this.", "您无权执行此操作。"},
			Text{"Sign in with an account that has the needed role.", "请使用具有相应权限的账户登录。"}},
		Def{CodeRateLimited, http.StatusTooManyRequests,
			Text{"Too many attempts.", "尝试次数过多。"},
			Text{"Wait {retry_after} seconds and try again.", "请等待 {retry_after} 秒后重试。"}},
		Def{CodeCrossOrigin, http.StatusForbidden,
			Text{"This form was sent from another site and was refused.", "该表单来自其他网站，已被拒绝。"},
			Text{"Open OKPay directly and submit the form again.", "请直接打开 OKPay 后重新提交表单。"}},
		Def{CodeUnavailable, http.StatusServiceUnavailable,
			Text{"The service is not ready.", "服务尚未就绪。"},
			Text{"Try again in a minute.", "请稍后重试。"}},
		Def{CodeIdempotencyConflict, http.StatusConflict,
			Text{"This Idempotency-Key was already used with a different request.", "该幂等键已用于另一个不同的请求。"},
			Text{"Use a new Idempotency-Key for a new request; reuse a key only to retry the same request.", "新请求请使用新的幂等键；只有重试同一请求时才复用原键。"}},
		Def{CodeAmountInvalid, http.StatusUnprocessableEntity,
			Text{"The amount is not valid.", "金额无效。"},
			Text{"Enter a positive amount with at most {scale} decimal places, such as 12.30.", "请输入正数金额，小数位不超过 {scale} 位，例如 12.30。"}},
		Def{CodeCurrencyUnsupported, http.StatusUnprocessableEntity,
			Text{"This currency is not supported.", "不支持该币种。"},
			Text{"Choose one of the supported currencies: CNY, USD, USDT, BTC.", "请选择支持的币种：CNY、USD、USDT、BTC。"}},
		Def{CodeMaintenance, http.StatusServiceUnavailable,
			Text{"OKPay is under maintenance; money cannot be moved right now.", "OKPay 正在维护，暂时无法进行资金操作。"},
			Text{"Try again after {until}. Signing in, reading and support keep working.", "请在 {until} 之后重试。登录、查询和客服不受影响。"}},
	)
}
