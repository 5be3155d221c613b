package dingbook

import "sort"

// Add adds d to t and reports whether it did: a tree can grow while a
// member file is streamed (source/console). d's parent need not be in t
// yet. The children of d's parent stay ordered as NewTree orders them. An id
// already in t is left unchanged and Add returns false.
func (t *Tree) Add(d Department) bool {
	if t.byID == nil {
		t.byID = map[int64]*Department{}
	}
	if t.children == nil {
		t.children = map[int64][]int64{}
	}
	if _, ok := t.byID[d.ID]; ok {
		return false
	}
	nd := d
	t.byID[d.ID] = &nd
	if d.ID == d.ParentID || d.ParentID == 0 {
		return true
	}
	c := t.children[d.ParentID]
	i := sort.Search(len(c), func(i int) bool {
		o := t.byID[c[i]]
		return o.Order > d.Order || o.Order == d.Order && o.ID > d.ID
	})
	c = append(c, 0)
	copy(c[i+1:], c[i:])
	c[i] = d.ID
	t.children[d.ParentID] = c
	return true
}
