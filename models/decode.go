package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DecodeStrict decodes one JSON object from data into v, a pointer to a struct. Beyond what
// encoding/json checks, it refuses invalid UTF-8, a byte-order mark, duplicate keys, keys that
// match a field only when case is ignored, unknown keys, a top-level value that is not an
// object, and anything after the object. Errors are EBadRequest, or EInvalid for a wrong type.
func DecodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return Errorf(EBadRequest, "the body is not valid UTF-8")
	}
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return Errorf(EBadRequest, "the body starts with a byte-order mark")
	}
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return Errorf(EInternal, "DecodeStrict needs a pointer")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	first, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	if first != json.Delim('{') {
		return Errorf(EBadRequest, "the body must be a JSON object")
	}
	if err := checkObject(dec, t.Elem(), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(EBadRequest, "the body has data after the JSON object")
	}

	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return typeError(err)
	}
	return nil
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(EBadRequest, "the JSON body is empty or cut short")
	}
	return &Error{Code: EBadRequest, Message: "the body is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
}

func typeError(err error) error {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		field := ute.Field
		if field == "" {
			field = "body"
		}
		return &Error{Code: EInvalid, Message: "a field has the wrong type", Fields: []FieldError{{Field: field, Message: "must be " + describeType(ute.Type)}}}
	}
	var me *Error
	if errors.As(err, &me) {
		return me
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return &Error{Code: EInvalid, Message: "a time is not valid", Fields: []FieldError{{Field: "body", Message: fmt.Sprintf("%q must be a real time in RFC 3339 form with an offset, such as 2020-02-03T08:00:00Z", pe.Value)}}}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return syntaxError(err)
	}
	return &Error{Code: EBadRequest, Message: "the body could not be decoded: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "a whole number in range"
	case reflect.Float64, reflect.Float32:
		return "a number in range"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.Name() == "Time" {
			return "a time such as 2020-02-03T08:00:00Z"
		}
		return "an object"
	}
	return "of another type"
}

// fieldsOf caches jsonFields by type: every request body is checked against its type's fields.
var fieldsOf sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields returns the exact JSON names of a struct's fields and their types. The map is
// shared: callers must not change it.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldsOf.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := structFields(t)
	fieldsOf.Store(t, m)
	return m
}

// structFields is jsonFields without the cache.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// checkObject walks the members of an object whose '{' was read, as far as its '}'.
func checkObject(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var fields map[string]reflect.Type
	if t != nil && t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshalerType) {
		fields = jsonFields(t)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key := tok.(string)
		folded := strings.ToLower(key)
		if seen[folded] {
			return &Error{Code: EBadRequest, Message: "the body repeats a key", Fields: []FieldError{{Field: join(path, key), Message: "appears more than once"}}}
		}
		seen[folded] = true
		var elem reflect.Type
		switch {
		case fields != nil:
			ft, ok := fields[key]
			if !ok {
				return &Error{Code: EBadRequest, Message: "the body has an unknown field", Fields: []FieldError{{Field: join(path, key), Message: "is not a field of this resource (names are case-sensitive)"}}}
			}
			elem = ft
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		if err := checkValue(dec, elem, join(path, key)); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	if err != nil {
		return syntaxError(err)
	}
	return nil
}

// checkValue walks one value; t is the Go type it will decode into, or nil if unknown.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		// time.Time reports a non-string as a plain error, which would read as malformed JSON.
		if _, ok := tok.(string); !ok && tok != nil {
			return &Error{Code: EInvalid, Message: "a field has the wrong type", Fields: []FieldError{{Field: path, Message: "must be " + describeType(t)}}}
		}
	}
	switch tok {
	case json.Delim('{'):
		return checkObject(dec, t, path)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return syntaxError(err)
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
