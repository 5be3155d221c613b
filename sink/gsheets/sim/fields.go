package sim

import "strings"

// mask is a parsed partial-response "fields" parameter:
// "a,b(c,d(e)),f". A nil subtree keeps the whole value.
type mask map[string]mask

// parseMask parses a fields parameter; ok is false when the parentheses
// do not match.
func parseMask(s string) (mask, bool) {
	m, rest, ok := parseMaskList(s)
	return m, ok && rest == ""
}

func parseMaskList(s string) (mask, string, bool) {
	m := mask{}
	for {
		i := strings.IndexAny(s, ",()")
		name := s
		if i >= 0 {
			name = s[:i]
		}
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, s, false
		}
		if i < 0 {
			m[name] = nil
			return m, "", true
		}
		switch s[i] {
		case ',':
			m[name], s = nil, s[i+1:]
		case ')':
			m[name] = nil
			return m, s[i:], true
		case '(':
			sub, rest, ok := parseMaskList(s[i+1:])
			if !ok || rest == "" || rest[0] != ')' {
				return nil, rest, false
			}
			m[name] = sub
			s = rest[1:]
			if s == "" {
				return m, "", true
			}
			if s[0] == ')' {
				return m, s, true
			}
			if s[0] != ',' {
				return nil, s, false
			}
			s = s[1:]
		}
	}
}

// filter keeps only what m selects of v (maps, and lists of maps).
func (m mask) filter(v any) any {
	if m == nil {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, sub := range m {
			if x, ok := v[k]; ok {
				out[k] = sub.filter(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = m.filter(x)
		}
		return out
	}
	return v
}

// partial applies the request's fields parameter to a response; a
// malformed mask answers false (the caller writes Google's 400).
func partial(fields string, v map[string]any) (any, bool) {
	if fields == "" {
		return v, true
	}
	m, ok := parseMask(fields)
	if !ok {
		return nil, false
	}
	return m.filter(v), true
}
