package main

import (
	"bytes"
	"errors"
	"strconv"
)

// errScan is what scanMessages reports for text that is not the JSON it expects.
var errScan = errors.New("not a live message or array of messages")

// scanMessages calls fn for each live message in raw, a JSON object or an array of objects,
// with the message's id, its type and its data's top-level id (0 where absent). It reads only
// those three keys and skips every other value without building it: with thousands of clients
// on the same cores as the server, a full decode of every delivery costs the server CPU time and
// so skews the latencies measured. A key is matched exactly, as the server writes it.
func scanMessages(raw []byte, fn func(id int64, typ []byte, dataID int64)) error {
	i := skipSpace(raw, 0)
	if i < len(raw) && raw[i] == '[' {
		i = skipSpace(raw, i+1)
		if i < len(raw) && raw[i] == ']' {
			return trailing(raw, i+1)
		}
		for {
			var err error
			if i, err = scanMessage(raw, i, fn); err != nil {
				return err
			}
			i = skipSpace(raw, i)
			if i >= len(raw) {
				return errScan
			}
			if raw[i] == ']' {
				return trailing(raw, i+1)
			}
			if raw[i] != ',' {
				return errScan
			}
			i = skipSpace(raw, i+1)
		}
	}
	i, err := scanMessage(raw, i, fn)
	if err != nil {
		return err
	}
	return trailing(raw, i)
}

func trailing(raw []byte, i int) error {
	if skipSpace(raw, i) != len(raw) {
		return errScan
	}
	return nil
}

// scanMessage reads the object at raw[i] and calls fn; it returns the index after the object.
func scanMessage(raw []byte, i int, fn func(id int64, typ []byte, dataID int64)) (int, error) {
	var id, dataID int64
	var typ []byte
	end, err := scanObject(raw, i, func(key []byte, v int) (int, error) {
		switch string(key) {
		case "id":
			return scanInt(raw, v, &id)
		case "type":
			e, err := skipValue(raw, v)
			if err != nil || raw[v] != '"' {
				return 0, errScan
			}
			typ = raw[v+1 : e-1]
			return e, nil
		case "data":
			if raw[v] == '{' {
				e, err := skipValue(raw, v)
				if err != nil {
					return 0, err
				}
				if bytes.HasPrefix(raw[v:e], []byte(`{"id":`)) {
					// As the server writes a resource: its id first, read without walking the rest.
					_, err = scanInt(raw, v+len(`{"id":`), &dataID)
					return e, err
				}
				return scanObject(raw, v, func(key []byte, v int) (int, error) {
					if string(key) == "id" {
						return scanInt(raw, v, &dataID)
					}
					return skipValue(raw, v)
				})
			}
		}
		return skipValue(raw, v)
	})
	if err != nil {
		return 0, err
	}
	fn(id, typ, dataID)
	return end, nil
}

// scanInt reads the integer at raw[v] into n and returns the index after it.
func scanInt(raw []byte, v int, n *int64) (int, error) {
	e, err := skipValue(raw, v)
	if err != nil {
		return 0, err
	}
	if *n, err = strconv.ParseInt(string(raw[v:e]), 10, 64); err != nil {
		return 0, errScan
	}
	return e, nil
}

// scanObject walks the object at raw[i], calling value with each key (as written, without its
// quotes) and the index of its value; value reads or skips the value and returns the index
// after it. scanObject returns the index after the object.
func scanObject(raw []byte, i int, value func(key []byte, v int) (int, error)) (int, error) {
	if i >= len(raw) || raw[i] != '{' {
		return 0, errScan
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return 0, errScan
		}
		ke, err := skipString(raw, i)
		if err != nil {
			return 0, err
		}
		key := raw[i+1 : ke-1]
		i = skipSpace(raw, ke)
		if i >= len(raw) || raw[i] != ':' {
			return 0, errScan
		}
		v := skipSpace(raw, i+1)
		if v >= len(raw) {
			return 0, errScan
		}
		if i, err = value(key, v); err != nil {
			return 0, errScan
		}
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return 0, errScan
		}
		switch raw[i] {
		case '}':
			return i + 1, nil
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return 0, errScan
		}
	}
}

// skipValue returns the index after the JSON value at raw[i].
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, errScan
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				e, err := skipString(raw, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errScan
	}
	j := i
	for j < len(raw) && raw[j] != ',' && raw[j] != '}' && raw[j] != ']' && !isSpace(raw[j]) {
		j++
	}
	if j == i {
		return 0, errScan
	}
	return j, nil
}

// skipString returns the index after the string whose opening quote is raw[i].
func skipString(raw []byte, i int) (int, error) {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errScan
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && isSpace(raw[i]) {
		i++
	}
	return i
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
