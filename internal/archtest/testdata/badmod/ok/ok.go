// Package ok follows its rule: it imports cleaning and reaches flag only
// through the outside package its rule names.
package ok

import (
	_ "net/http/httptest"

	_ "example.com/bad/clean"
)
