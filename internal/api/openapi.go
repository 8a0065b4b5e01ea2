package api

import (
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"okpay/internal/apperr"
)

// OpenAPI builds the OpenAPI 3.1 document for rt. Schemas come from the Go types by
// reflection: json tags name properties, `omitempty` makes a field optional, and a `doc`
// tag describes it; named struct types become components so clients get stable names.
func OpenAPI(rt *Router, version string) map[string]any {
	g := &schemaGen{components: map[string]any{}}
	paths := map[string]any{}
	for _, r := range rt.Routes() {
		item, _ := paths[r.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[r.Path] = item
		}
		op := map[string]any{
			"operationId": r.ID,
			"summary":     r.Summary,
			"tags":        []string{r.Tag},
		}
		var params []any
		for _, name := range pathParams(r.Path) {
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		qnames := make([]string, 0, len(r.Query))
		for q := range r.Query {
			qnames = append(qnames, q)
		}
		sort.Strings(qnames)
		for _, q := range qnames {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "description": r.Query[q], "schema": map[string]any{"type": "string"}})
		}
		if r.Method != "GET" {
			params = append(params, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		switch r.Auth {
		case "session":
			op["security"] = []any{map[string]any{"session": []string{}}}
		case "apikey":
			op["security"] = []any{map[string]any{"apiKey": []string{}}}
		case "either":
			op["security"] = []any{map[string]any{"session": []string{}}, map[string]any{"apiKey": []string{}}}
		}
		if r.Request != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Request))}},
			}
		}
		responses := map[string]any{}
		ok := map[string]any{"description": "Success"}
		if r.Response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(r.Response))}}
		}
		responses[itoa(r.Status)] = ok
		codesByStatus := map[int][]string{}
		for _, c := range append([]string{apperr.CodeInternal}, r.Errors...) {
			if d, found := apperr.Lookup(c); found {
				codesByStatus[d.Status] = append(codesByStatus[d.Status], c)
			}
		}
		for st, codes := range codesByStatus {
			responses[itoa(st)] = map[string]any{
				"description": "Error: " + strings.Join(codes, ", "),
				"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
			}
		}
		op["responses"] = responses
		item[strings.ToLower(r.Method)] = op
	}
	g.components["Error"] = g.schema(reflect.TypeOf(apperr.Body{}))
	codes := []string{}
	for _, d := range apperr.Catalog() {
		codes = append(codes, d.Code)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "OKPay API",
			"version":     version,
			"description": "JSON API of OKPay. Every error has the body {\"error\":{code,message,fix,fields,request_id}}; messages follow Accept-Language (zh-CN or en). Mutating calls accept an Idempotency-Key header. Error codes: " + strings.Join(codes, ", ") + ".",
		},
		"servers": []any{map[string]any{"url": Prefix}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "okpay_session"},
				"apiKey":  map[string]any{"type": "http", "scheme": "bearer"},
			},
			"parameters": map[string]any{
				"IdempotencyKey": map[string]any{
					"name": "Idempotency-Key", "in": "header", "required": false,
					"description": "Retry a call safely: the first response is stored and replayed; the same key with a different body is refused with idempotency_conflict.",
					"schema":      map[string]any{"type": "string", "maxLength": 255},
				},
			},
		},
	}
}

var paramRe = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range paramRe.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

type schemaGen struct {
	components map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Struct:
		if t.Name() != "" {
			name := t.Name()
			if _, done := g.components[name]; !done {
				g.components[name] = map[string]any{} // placeholder breaks recursion
				g.components[name] = g.object(t)
			}
			return map[string]any{"$ref": "#/components/schemas/" + name}
		}
		return g.object(t)
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}, "description": d}
			} else {
				s["description"] = d
			}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			required = append(required, name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
