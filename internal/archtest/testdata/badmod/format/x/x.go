// Package x is a format that imports cleaning and SQL, both forbidden.
package x

import (
	_ "database/sql"

	_ "example.com/bad/clean"
)
