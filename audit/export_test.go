package audit

// SetWriteAnchor replaces how audit.head is written (a test makes it fail
// as a full disk would) and returns the function that restores it.
func SetWriteAnchor(f func(path string, data []byte) error) (restore func()) {
	writeAnchor = f
	return func() { writeAnchor = defaultWriteAnchor }
}
