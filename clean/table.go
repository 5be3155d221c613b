package clean

import "math/bits"

// personTable maps person keys (64-bit hashes) to their entry: an
// open-addressing table with linear probing, 16 bytes a slot (TestSlotSize) at a load
// of at most 3/4. It replaces a Go map, which took about twice the
// memory for a million people.
type personTable struct {
	slots []slot
	n     int
}

type slot struct {
	key uint64
	e   entry // e.used marks a slot in use (in entry's padding: 16 bytes a slot, not 24)
}

func newPersonTable(hint int) personTable {
	return personTable{slots: make([]slot, max(16, hint+hint/3+1))}
}

// find returns the slot of key, or the empty slot where it would go.
func (t *personTable) find(key uint64) *slot {
	hi, _ := bits.Mul64(key, uint64(len(t.slots)))
	for i := int(hi); ; i++ {
		if i == len(t.slots) {
			i = 0
		}
		s := &t.slots[i]
		if !s.e.used || s.key == key {
			return s
		}
	}
}

// get returns key's entry.
func (t *personTable) get(key uint64) (entry, bool) {
	if len(t.slots) == 0 {
		return entry{}, false
	}
	if s := t.find(key); s.e.used {
		e := s.e
		e.used = false // the table's mark, not the caller's
		return e, true
	}
	return entry{}, false
}

// put sets key's entry.
func (t *personTable) put(key uint64, e entry) {
	if (t.n+1)*4 > len(t.slots)*3 {
		old := t.slots
		t.slots = make([]slot, max(16, 2*len(old)))
		for i := range old {
			if old[i].e.used {
				*t.find(old[i].key) = old[i]
			}
		}
	}
	s := t.find(key)
	if !s.e.used {
		t.n++
	}
	e.used = true
	*s = slot{key: key, e: e}
}

// len returns the number of keys.
func (t *personTable) len() int { return t.n }
