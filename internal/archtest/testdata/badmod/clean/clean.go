// Package clean imports nothing.
package clean
