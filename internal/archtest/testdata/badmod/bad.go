// Package bad is the fixture's domain: it imports a package of its module,
// which its rule forbids.
package bad

import _ "example.com/bad/store"
