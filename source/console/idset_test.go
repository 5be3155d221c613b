package console

import "testing"

// hashSet against a map, through growth from a small estimate, with the
// key 0 and repeats.
func TestHashSet(t *testing.T) {
	s := newHashSet(3)
	want := map[uint64]bool{}
	for i := uint64(0); i < 5000; i++ {
		k := (i * 0x9E3779B97F4A7C15) % 7919 // repeats, and 0
		if got := s.add(k); got != want[k] {
			t.Fatalf("add(%d) = %v, want %v", k, got, want[k])
		}
		want[k] = true
	}
	for k := uint64(0); k < 9000; k++ {
		if s.has(k) != want[k] {
			t.Fatalf("has(%d) = %v", k, s.has(k))
		}
	}
	if s.n+1 != len(want) { // 0 is kept aside
		t.Errorf("n = %d, want %d", s.n, len(want)-1)
	}
}
