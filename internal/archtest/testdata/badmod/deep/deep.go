// Package deep reaches flag through an outside package (httptest imports
// flag) without importing it.
package deep

import _ "net/http/httptest"
