// Package front imports flag, which its rule does not allow.
package front

import _ "flag"
