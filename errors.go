package dingbook

import (
	"errors"
	"fmt"
)

// Error codes classify errors for exit codes and scripts.
const (
	EINVALID    = "invalid"    // bad input: flag, file, row, field
	ENOTFOUND   = "notfound"   // no snapshot, no such department
	EAUTH       = "auth"       // credentials rejected
	EPERM       = "perm"       // a permission, scope, range or whitelist is missing
	EPOLICY     = "policy"     // refused by the export policy
	EINCOMPLETE = "incomplete" // a pull that cannot vouch for completeness
	EINTERNAL   = "internal"
)

// Error is an error meant for the user: a message that names what went
// wrong (file, row, field or API call) and a hint that says what to do.
type Error struct {
	Code    string
	Message string
	Hint    string
	Err     error // underlying cause, optional
	// Field names the option of the request that the hint asks to change,
	// in the use-case layer's words ("basis", "keep", "overwrite", …), so
	// that a front end can name its own control for it (the CLI: a flag).
	// The hint itself is worded for any front end.
	Field string

	// origin is the shared error (a sentinel such as store.ErrNoSnapshot)
	// this one is a copy of, so that errors.Is still matches the copy.
	origin *Error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithHint returns a copy of e with the hint set; e itself is not
// changed, so a shared sentinel error keeps its hint. errors.Is matches the
// copy against e.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, args...)
	if c.origin == nil {
		c.origin = e
	}
	return &c
}

// Is reports whether e is target or a copy of it (WithHint).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e.origin != nil && e.origin == t
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// WithField returns a copy of e whose hint is about the request's option
// field (see Error.Field).
func (e *Error) WithField(field string) *Error {
	c := *e
	c.Field = field
	if c.origin == nil {
		c.origin = e
	}
	return &c
}

// ErrorField returns the Field of the first *Error in err's chain.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// ErrorHint returns the hint of the first *Error in err's chain.
func ErrorHint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}
