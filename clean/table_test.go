package clean

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestSlotSize: a slot is 16 bytes (a million people's table is ~21 MB;
// with its in-use flag outside the entry it was 24 bytes a slot).
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 16 {
		t.Fatalf("a personTable slot is %d bytes, want 16", n)
	}
}

// TestPersonTable checks the table against a Go map through growth,
// updates and look-ups of absent keys (including keys that collide in
// their first slot).
func TestPersonTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, hint := range []int{0, 10, 5000} {
		tab := newPersonTable(hint)
		want := map[uint64]entry{}
		keys := []uint64{0, 1, 1 << 63, ^uint64(0)}
		for i := 0; i < 3000; i++ {
			keys = append(keys, rng.Uint64())
		}
		for i, k := range keys {
			e := entry{ord: int32(i), set: Set(rng.IntN(1 << 12))}
			tab.put(k, e)
			want[k] = e
			if i%3 == 0 { // update
				e.set |= 1
				tab.put(k, e)
				want[k] = e
			}
		}
		if tab.len() != len(want) {
			t.Fatalf("hint %d: len %d, want %d", hint, tab.len(), len(want))
		}
		for k, e := range want {
			if got, ok := tab.get(k); !ok || got != e {
				t.Fatalf("hint %d: get(%x) = %v %v, want %v", hint, k, got, ok, e)
			}
		}
		for i := 0; i < 3000; i++ {
			k := rng.Uint64()
			if _, in := want[k]; in {
				continue
			}
			if got, ok := tab.get(k); ok || got != (entry{}) {
				t.Fatalf("hint %d: absent key %x found: %v", hint, k, got)
			}
		}
		if n := len(tab.slots); n*3 < tab.len()*4 {
			t.Fatalf("hint %d: %d slots for %d keys: over 3/4 full", hint, n, tab.len())
		}
	}
}
