// Package store may import database/sql.
package store

import _ "database/sql"
