// Package gen generates deterministic, realistic DingTalk organisations
// and knows their truth: which people carry which injected data problem
// (exactly as defined in dingbook's quality.go) and who is access-restricted.
// The DingTalk simulator serves a generated (or loaded) organisation, and
// tests compare what dingbook finds against the truth.
//
// A generated org has a department tree up to six levels deep (the root,
// id 1, is level 1) with Chinese and English names, a few containing '-'
// or ','; people with Chinese (including compound surnames), Indonesian
// (including mononyms) and English names; +86 and +62 mobiles that are
// valid for libphonenumber; about 5% of people in several departments with
// int64 order values above 2^53; leaders, managers, restricted staff and
// hidden mobiles. Outside the injected problems every mobile, e-mail and
// name-within-a-department is unique, every number and address valid.
//
// Load reads an exact organisation from JSON or YAML; Save writes one.
package gen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
)

// Options control Generate.
type Options struct {
	// Users is the number of people (up to 500,000 and beyond).
	Users int
	// Depts is the number of departments including the root (≥ 1; 0 picks
	// about one per 25 people).
	Depts int
	// Seed makes the org; the same options give the same org.
	Seed int64
	// CorpName is the organisation's (and the root department's) name.
	CorpName string
}

// DefaultCorpName is used when Options.CorpName is empty.
const DefaultCorpName = "示例科技有限公司"

// MaxDepth is the deepest department level generated (root = level 1).
const MaxDepth = 6

// OrderBase is the first per-department order value; orders exceed 2^53
// so that a client decoding them through float64 loses digits.
const OrderBase int64 = 176294576350761512

// Truth is an organisation plus what the generator knows about it.
type Truth struct {
	Org dingbook.Org
	// Problems maps each injected data problem to the sorted userids that
	// have it, using exactly the definitions of dingbook.Problem.
	Problems map[dingbook.Problem][]string
	// Restricted lists the userids of access-restricted staff (sorted).
	Restricted []string
	// Admins is the admin state (AdminsOf): one primary admin and
	// sub-admins with their department scopes.
	Admins []Admin
	// Accounts are DingTalk accounts that are not members (AccountsOf):
	// outsiders, former members, external contacts' accounts and members
	// of another organisation.
	Accounts []Account
}

// problem rates (fraction of people); each gets at least one person in
// orgs of 20 people or more.
var rates = map[dingbook.Problem]float64{
	dingbook.ProblemDuplicateName:    0.01,
	dingbook.ProblemDuplicateMobile:  0.01,
	dingbook.ProblemDuplicateEmail:   0.01,
	dingbook.ProblemMissingMobile:    0.015,
	dingbook.ProblemHiddenMobile:     0.02,
	dingbook.ProblemMissingEmail:     0.015,
	dingbook.ProblemInvalidPhone:     0.01,
	dingbook.ProblemInvalidEmail:     0.01,
	dingbook.ProblemMissingTitle:     0.02,
	dingbook.ProblemMissingJobNumber: 0.015,
	dingbook.ProblemManagerNotFound:  0.01,
	dingbook.ProblemInactive:         0.03,
}

type nameKey struct {
	dept int64
	name string
}

type generator struct {
	rng   *rand.Rand
	opts  Options
	org   *dingbook.Org
	level map[int64]int
	// names in use per department (direct members).
	names map[nameKey]struct{}
	// members per department, in order.
	members map[int64][]int
	deptIdx map[int64]int
}

// Generate returns the organisation for opts. It is deterministic: the
// same options always give the same Truth.
func Generate(opts Options) *Truth {
	if opts.Users < 0 {
		opts.Users = 0
	}
	if opts.Depts <= 0 {
		opts.Depts = max(1, opts.Users/25)
	}
	if opts.CorpName == "" {
		opts.CorpName = DefaultCorpName
	}
	g := &generator{
		rng:     rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		opts:    opts,
		org:     &dingbook.Org{Name: opts.CorpName},
		level:   make(map[int64]int, opts.Depts),
		names:   make(map[nameKey]struct{}, opts.Users+opts.Users/10),
		members: make(map[int64][]int, opts.Depts),
		deptIdx: make(map[int64]int, opts.Depts),
	}
	g.org.CorpID = fmt.Sprintf("ding%016x", uint64(opts.Seed)*0x2545f4914f6cdd1d+0x1d)
	g.depts()
	g.people()
	g.leadersAndManagers()
	truth := &Truth{Org: *g.org, Problems: map[dingbook.Problem][]string{}}
	g.inject(truth)
	g.externals()
	truth.Org = *g.org
	for i := range truth.Org.People {
		if truth.Org.People[i].Restricted {
			truth.Restricted = append(truth.Restricted, truth.Org.People[i].UserID)
		}
	}
	sort.Strings(truth.Restricted)
	CountMembers(&truth.Org)
	truth.Admins = AdminsOf(&truth.Org)
	truth.Accounts = AccountsOf(&truth.Org, opts.Seed)
	return truth
}

func (g *generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *generator) depts() {
	n := g.opts.Depts
	org := g.org
	org.Depts = make([]dingbook.Department, 0, n)
	org.Depts = append(org.Depts, dingbook.Department{ID: dingbook.RootDeptID, Name: g.opts.CorpName, ParentID: 0})
	g.level[1] = 1
	g.deptIdx[1] = 0
	eligible := []int64{1} // departments that may still get children
	childNames := map[int64]map[string]bool{}
	childCount := map[int64]int{}
	odd := 0
	for i := 1; i < n; i++ {
		id := int64(400000000 + i*1000 + g.rng.IntN(1000))
		var parent int64
		switch {
		case i <= MaxDepth-1:
			// the first departments form a chain reaching the maximum depth
			parent = org.Depts[i-1].ID
		case g.rng.IntN(i) < 12:
			// about 12·ln(n) first-level departments
			parent = 1
		default:
			// the shallower of two random candidates: a bushy, not
			// stringy, tree
			parent = eligible[g.rng.IntN(len(eligible))]
			if other := eligible[g.rng.IntN(len(eligible))]; g.level[other] < g.level[parent] {
				parent = other
			}
		}
		lvl := g.level[parent] + 1
		if childNames[parent] == nil {
			childNames[parent] = map[string]bool{}
		}
		var name string
		for try := 0; try < 6 && (name == "" || childNames[parent][name]); try++ {
			switch {
			case odd < len(oddDeptNames) && (i == 2 || i%37 == 0):
				name = oddDeptNames[odd]
				odd++
			case g.rng.IntN(4) == 0:
				name = g.pick(enDept)
			case lvl == 2:
				name = g.pick(zhDeptTop)
			default:
				name = g.pick(zhDeptSub)
			}
		}
		base := name
		for k := 2; childNames[parent][name]; k++ {
			name = base + strconv.Itoa(k)
		}
		childNames[parent][name] = true
		childCount[parent]++
		d := dingbook.Department{
			ID: id, Name: name, ParentID: parent,
			Order: int64(childCount[parent]) * 10,
		}
		org.Depts = append(org.Depts, d)
		g.level[id] = lvl
		g.deptIdx[id] = len(org.Depts) - 1
		if lvl < MaxDepth {
			eligible = append(eligible, id)
		}
	}
}

// mobile8 maps i to 8 unique digits (a bijection on 0..10^8-1).
func mobile8(i int) string {
	v := (uint64(i)*48271 + 12345678) % 100000000
	return fmt.Sprintf("%08d", v)
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func (g *generator) randString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[g.rng.IntN(len(alnum))]
	}
	return string(b)
}

// personName returns a name and its romanised e-mail stem and whether the
// person is Indonesian.
func (g *generator) personName() (name, stem string, indo bool) {
	r := g.rng.IntN(100)
	switch {
	case r < 70:
		var s zh
		if g.rng.IntN(100) < 4 {
			s = zhCompound[g.rng.IntN(len(zhCompound))]
		} else {
			s = zhSurnames[g.rng.IntN(len(zhSurnames))]
		}
		a := zhGiven[g.rng.IntN(len(zhGiven))]
		if g.rng.IntN(3) == 0 {
			return s.han + a.han, a.py + "." + s.py, false
		}
		b := zhGiven[g.rng.IntN(len(zhGiven))]
		return s.han + a.han + b.han, a.py + b.py + "." + s.py, false
	case r < 85:
		if g.rng.IntN(8) == 0 {
			n := g.pick(idSingle)
			return n, strings.ToLower(n), true
		}
		f, l := g.pick(idFirst), g.pick(idLast)
		return f + " " + l, strings.ToLower(f + "." + l), true
	default:
		f, l := g.pick(enFirst), g.pick(enLast)
		return f + " " + l, strings.ToLower(f + "." + strings.ReplaceAll(l, "'", "")), false
	}
}

func (g *generator) people() {
	n := g.opts.Users
	org := g.org
	org.People = make([]dingbook.Person, n)
	depts := org.Depts
	start := time.Date(2012, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	corpDomain := "corp.example.com"
	for i := 0; i < n; i++ {
		p := &org.People[i]
		// userids: mostly DingTalk-style numeric strings, some custom ones
		if i%50 == 7 {
			p.UserID = "manager" + strconv.Itoa(7000+i)
		} else {
			p.UserID = strconv.FormatInt(200407370437919863+int64(i)*131, 10)
		}
		p.UnionID = g.randString(20) + "iE"
		// departments
		primary := depts[g.rng.IntN(len(depts))].ID
		ids := []int64{primary}
		if len(depts) > 1 && g.rng.IntN(100) < 5 {
			extra := 1 + g.rng.IntN(2)
			for k := 0; k < extra*3 && len(ids) < 1+extra; k++ {
				d := depts[g.rng.IntN(len(depts))].ID
				if !containsID(ids, d) {
					ids = append(ids, d)
				}
			}
		}
		for k, d := range ids {
			p.Depts = append(p.Depts, dingbook.Membership{DeptID: d, Order: OrderBase + int64(i)*16 + int64(k)})
		}
		// name: unique among the direct members of each department
		var stem string
		var indo bool
		for try := 0; ; try++ {
			var name string
			name, stem, indo = g.personName()
			if try > 40 {
				name = fmt.Sprintf("%s%d", name, i)
			}
			free := true
			for _, d := range ids {
				if _, used := g.names[nameKey{d, name}]; used {
					free = false
					break
				}
			}
			if free {
				p.Name = name
				for _, d := range ids {
					g.names[nameKey{d, name}] = struct{}{}
				}
				break
			}
		}
		for _, d := range ids {
			g.members[d] = append(g.members[d], i)
		}
		// phones
		if indo {
			p.StateCode = "62"
			p.Mobile = g.pick(idPrefixes) + mobile8(i)
		} else {
			p.StateCode = "86"
			p.Mobile = g.pick(cnPrefixes) + mobile8(i)
		}
		if g.rng.IntN(10) < 4 {
			p.Telephone = strconv.Itoa(8000 + g.rng.IntN(2000))
		}
		// e-mails: at least one of email/org_email, unique once lower-cased
		local := stem + "." + strconv.Itoa(i)
		hasPersonal := g.rng.IntN(10) < 8
		hasOrg := !hasPersonal || g.rng.IntN(10) < 6
		if hasPersonal {
			e := local + "@" + g.pick(personalDomains)
			switch g.rng.IntN(40) {
			case 0: // odd but valid: upper case
				e = strings.ToUpper(e[:1]) + e[1:len(e)-4] + strings.ToUpper(e[len(e)-4:])
			case 1: // odd but valid: plus tag
				e = strings.Replace(e, "@", "+work@", 1)
			case 2: // odd but valid: surrounding blanks
				e = " " + e + " "
			}
			p.Email = e
		}
		if hasOrg {
			p.OrgEmail = local + "@" + corpDomain
			p.OrgEmailType = "profession"
		}
		p.JobNumber = fmt.Sprintf("A%06d", i+1)
		if indo || g.rng.IntN(5) == 0 {
			p.Title = g.pick(titlesEn)
		} else {
			p.Title = g.pick(titlesZh)
		}
		if g.rng.IntN(10) < 6 {
			p.WorkPlace = g.pick(workPlaces)
		}
		if g.rng.IntN(10) < 9 {
			days := g.rng.IntN(14 * 365)
			p.HiredDate = start.AddDate(0, 0, days).UnixMilli()
		}
		if g.rng.IntN(2) == 0 {
			p.Extension = map[string]string{
				"爱好": g.pick(hobbies),
				"工位": fmt.Sprintf("%c-%d-%02d", 'A'+rune(g.rng.IntN(6)), 1+g.rng.IntN(20), 1+g.rng.IntN(60)),
			}
		}
		if g.rng.IntN(10) == 0 {
			p.Remark = g.pick(remarks)
		}
		if g.rng.IntN(20) == 0 {
			p.Avatar = "https://static-legacy.dingtalk.com/media/lADP" + g.randString(24) + "_240_240.jpg"
		}
		p.Active = true
		p.RealAuthed = g.rng.IntN(10) < 9
		p.Senior = g.rng.IntN(200) == 0
		if g.rng.IntN(100) == 0 {
			p.ExclusiveAccount = true
			p.LoginID = "emp" + strconv.Itoa(i)
		}
	}
	if n > 0 {
		org.People[0].Boss = true
		org.People[0].Admin = true
		for i := 1; i < n; i += 397 {
			org.People[i].Admin = true
		}
	}
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// leadersAndManagers marks the first member of each department as its
// leader and points most people's manager_userid at the leader of their
// first department (or, for leaders, of the nearest ancestor with one).
func (g *generator) leadersAndManagers() {
	org := g.org
	leader := map[int64]int{}
	for i := range org.Depts {
		d := &org.Depts[i]
		m := g.members[d.ID]
		if len(m) == 0 {
			continue
		}
		li := m[0]
		leader[d.ID] = li
		p := &org.People[li]
		for k := range p.Depts {
			if p.Depts[k].DeptID == d.ID {
				p.Depts[k].Leader = true
			}
		}
		d.ManagerUserIDs = []string{p.UserID}
	}
	for i := range org.People {
		p := &org.People[i]
		if g.rng.IntN(10) >= 8 {
			continue
		}
		d := p.Depts[0].DeptID
		for d != 0 {
			if li, ok := leader[d]; ok && li != i {
				p.ManagerUserID = org.People[li].UserID
				break
			}
			d = org.Depts[g.deptIdx[d]].ParentID
		}
	}
}

// inject gives each problem to a disjoint set of people and records them.
func (g *generator) inject(t *Truth) {
	people := g.org.People
	n := len(people)
	if n < 2 {
		return
	}
	perm := g.rng.Perm(n)
	used := make([]bool, n)
	next := 0
	take := func() int {
		for next < n {
			i := perm[next]
			next++
			if !used[i] {
				used[i] = true
				return i
			}
		}
		return -1
	}
	count := func(p dingbook.Problem) int {
		k := int(float64(n) * rates[p])
		if k < 1 && n >= 20 {
			k = 1
		}
		return k
	}
	add := func(p dingbook.Problem, idx ...int) {
		for _, i := range idx {
			t.Problems[p] = append(t.Problems[p], people[i].UserID)
		}
	}

	// duplicate-name: B (one department only) takes the name of A, another
	// direct member of the same department.
	pairs := max(count(dingbook.ProblemDuplicateName)/2, min(1, count(dingbook.ProblemDuplicateName)))
	for k, scan := 0, 0; k < pairs && scan < n; scan++ {
		b := perm[scan]
		if used[b] || len(people[b].Depts) != 1 {
			continue
		}
		d := people[b].Depts[0].DeptID
		a := -1
		for _, m := range g.members[d] {
			if m != b && !used[m] {
				a = m
				break
			}
		}
		if a < 0 {
			continue
		}
		used[a], used[b] = true, true
		delete(g.names, nameKey{d, people[b].Name})
		people[b].Name = people[a].Name
		add(dingbook.ProblemDuplicateName, a, b)
		k++
	}
	// duplicate-mobile: groups of two (every fifth group three) share one.
	groups := max(count(dingbook.ProblemDuplicateMobile)/2, min(1, count(dingbook.ProblemDuplicateMobile)))
	for k := 0; k < groups; k++ {
		size := 2
		if k%5 == 4 {
			size = 3
		}
		a := take()
		if a < 0 {
			break
		}
		add(dingbook.ProblemDuplicateMobile, a)
		for j := 1; j < size; j++ {
			b := take()
			if b < 0 {
				break
			}
			people[b].Mobile, people[b].StateCode = people[a].Mobile, people[a].StateCode
			add(dingbook.ProblemDuplicateMobile, b)
		}
	}
	// duplicate-email: B gets A's personal e-mail in another letter case.
	groups = max(count(dingbook.ProblemDuplicateEmail)/2, min(1, count(dingbook.ProblemDuplicateEmail)))
	for k := 0; k < groups; k++ {
		a := take()
		b := take()
		if a < 0 || b < 0 {
			break
		}
		if people[a].Email == "" {
			people[a].Email = strings.TrimSuffix(people[a].OrgEmail, "@corp.example.com") + "@" + personalDomains[0]
		}
		e := strings.TrimSpace(people[a].Email)
		people[b].Email = strings.ToUpper(e[:1]) + e[1:]
		add(dingbook.ProblemDuplicateEmail, a, b)
	}
	simple := []struct {
		p   dingbook.Problem
		fix func(p *dingbook.Person, i, k int)
	}{
		{dingbook.ProblemMissingMobile, func(p *dingbook.Person, i, k int) { p.Mobile, p.StateCode = "", "" }},
		{dingbook.ProblemHiddenMobile, func(p *dingbook.Person, i, k int) { p.HideMobile = true }},
		{dingbook.ProblemMissingEmail, func(p *dingbook.Person, i, k int) { p.Email, p.OrgEmail, p.OrgEmailType = "", "", "" }},
		{dingbook.ProblemInvalidPhone, func(p *dingbook.Person, i, k int) {
			if p.StateCode == "62" {
				p.Mobile = fmt.Sprintf("81%04d", k%10000) // 6 digits: too short
			} else {
				p.StateCode = "86"
				p.Mobile = fmt.Sprintf("13%05d", k%100000) // 7 digits: too short
			}
		}},
		{dingbook.ProblemInvalidEmail, func(p *dingbook.Person, i, k int) {
			if i%2 == 0 {
				p.Email = fmt.Sprintf("zhang.wei.%d@@example", i)
			} else {
				p.Email = fmt.Sprintf("no-at-sign-%d.example.com", i)
			}
		}},
		{dingbook.ProblemMissingTitle, func(p *dingbook.Person, i, k int) {
			if i%3 == 0 {
				p.Title = "  "
			} else {
				p.Title = ""
			}
		}},
		{dingbook.ProblemMissingJobNumber, func(p *dingbook.Person, i, k int) { p.JobNumber = "" }},
		{dingbook.ProblemManagerNotFound, func(p *dingbook.Person, i, k int) { p.ManagerUserID = "departed" + strconv.Itoa(90000+i) }},
		{dingbook.ProblemInactive, func(p *dingbook.Person, i, k int) { p.Active = false }},
	}
	for _, s := range simple {
		for k := 0; k < count(s.p); k++ {
			i := take()
			if i < 0 {
				break
			}
			s.fix(&people[i], i, k)
			add(s.p, i)
		}
	}
	for p := range t.Problems {
		sort.Strings(t.Problems[p])
	}
	// restricted staff: about 2%, independent of the problems
	restricted := max(1, n/50)
	for _, i := range g.rng.Perm(n)[:min(restricted, n)] {
		people[i].Restricted = true
	}
}

// externals adds external contacts (one per 20 people, at most 2000),
// each followed by a person, some shared with a person or a department.
func (g *generator) externals() {
	n := min(len(g.org.People)/20, 2000)
	for i := 0; i < n; i++ {
		name, stem, indo := g.personName()
		e := dingbook.ExternalContact{
			UserID:      fmt.Sprintf("ext%08d", 1000+i*7),
			Name:        name,
			StateCode:   "86",
			Mobile:      "199" + mobile8(90000000+i),
			Email:       fmt.Sprintf("%s.%d@partner.example.com", stem, i),
			CompanyName: "合作伙伴" + strconv.Itoa(i%17) + "有限公司",
			Title:       g.pick(titlesZh),
			LabelIDs:    []int64{ExternalLabels[i%len(ExternalLabels)].ID},
			Labels:      []dingbook.ExternalLabel{ExternalLabels[i%len(ExternalLabels)]},
		}
		if indo {
			e.StateCode, e.Mobile = "62", "813"+mobile8(90000000+i)
			e.CompanyName = "PT Mitra " + strconv.Itoa(i%17)
		}
		if n := len(g.org.People); n > 0 {
			e.FollowerUserID = g.org.People[i%n].UserID
			// shares without the random source (the rest of the org stays
			// as it was): every third contact is shared with a colleague,
			// every fourth with a department (the portal's visibility
			// rules, serve.md §B)
			if i%3 == 1 {
				e.ShareUserIDs = []string{g.org.People[(i*7+3)%n].UserID}
			}
			if d := len(g.org.Depts); d > 1 && i%4 == 2 {
				e.ShareDeptIDs = []int64{g.org.Depts[1+(i*5)%(d-1)].ID}
			}
		}
		g.org.External = append(g.org.External, e)
	}
}

// CountMembers fills MemberCount (distinct people in the department and
// below) and OwningMemberCount (direct members) of every department,
// counting everyone including restricted staff.
func CountMembers(org *dingbook.Org) {
	idx := make(map[int64]int, len(org.Depts))
	for i := range org.Depts {
		idx[org.Depts[i].ID] = i
		org.Depts[i].MemberCount = 0
		org.Depts[i].OwningMemberCount = 0
	}
	var seen []int64
	for pi := range org.People {
		seen = seen[:0]
		for _, m := range org.People[pi].Depts {
			i, ok := idx[m.DeptID]
			if !ok {
				continue
			}
			org.Depts[i].OwningMemberCount++
			for hops := 0; ok && hops < 64; hops++ {
				id := org.Depts[i].ID
				if containsID(seen, id) {
					break
				}
				seen = append(seen, id)
				org.Depts[i].MemberCount++
				if id == dingbook.RootDeptID {
					break
				}
				i, ok = idx[org.Depts[i].ParentID]
			}
		}
	}
}

// ExternalLabels are the organisation's labels of external contacts (the
// simulator's topapi/extcontact/listlabelgroups, by group in this order);
// each generated contact has one.
var ExternalLabels = []dingbook.ExternalLabel{
	{ID: 1561077310, Name: "客户", Group: "类型"},
	{ID: 1561077311, Name: "供应商", Group: "类型"},
	{ID: 1561077312, Name: "合作伙伴", Group: "类型"},
}
