// Package orphan has no rule.
package orphan
