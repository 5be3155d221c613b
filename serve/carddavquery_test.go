package serve_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// queryReport is an addressbook-query with a filter (inner XML, in the
// CardDAV namespace's card: prefix) and a limit (0: none).
func queryReport(filter string, limit int) string {
	l := ""
	if limit > 0 {
		l = "<card:limit><card:nresults>" + string(rune('0'+limit)) + "</card:nresults></card:limit>"
	}
	return `<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>` +
		filter + l + `</card:addressbook-query>`
}

func TestCardDAVAddressbookQuery(t *testing.T) {
	e, c := newDirEnv(t)
	p := e.browser(c.emp).login().newAppPassword("Evolution")
	dev := device{b: e.browser(""), user: p.Username, pass: p.Password}
	book := "/dav/books/" + c.emp + "/directory/"
	query := func(filter string, limit int) multistatus {
		t.Helper()
		resp, out := dev.req("REPORT", book, queryReport(filter, limit), http.Header{"Depth": {"1"}})
		return parseMS(t, resp, out)
	}
	// no filter (Evolution's listing): every card of the book, as a
	// Depth 1 PROPFIND lists them
	resp, out := dev.req("PROPFIND", book, `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`, http.Header{"Depth": {"1"}})
	listed := cardNames(t, parseMS(t, resp, out), book)
	all := query("", 0)
	if got := cardNames(t, all, book); !slices.Equal(got, listed) || len(got) < 5 {
		t.Fatalf("no filter: %d cards, the book lists %d", len(got), len(listed))
	}
	if got := cardNames(t, query(`<card:filter/>`, 0), book); !slices.Equal(got, listed) {
		t.Errorf("an empty filter: %d cards, want %d", len(got), len(listed))
	}
	// Evolution's listing: address-data with a property subset (not
	// applied: the whole card) and an empty filter
	evo := `<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/>` +
		`<card:address-data><card:prop name="VERSION"/><card:prop name="UID"/></card:address-data></d:prop>` +
		`<card:filter test="anyof"/></card:addressbook-query>`
	resp, out = dev.req("REPORT", book, evo, http.Header{"Depth": {"1"}})
	if ms := parseMS(t, resp, out); len(ms.Responses) != len(listed) || !strings.Contains(propValue(ms.Responses[0].ok200(), "address-data"), "UID:") {
		t.Errorf("Evolution's listing: %d cards, want %d", len(ms.Responses), len(listed))
	}
	body := map[string]string{}
	for _, r := range all.Responses {
		body[strings.TrimPrefix(r.Href, book)] = strings.ReplaceAll(propValue(r.ok200(), "address-data"), "\r\n", "\n")
	}
	// the names that pass an oracle over the bodies
	where := func(keep func(body string) bool) []string {
		var out []string
		for _, n := range listed {
			if keep(body[n]) {
				out = append(out, n)
			}
		}
		return out
	}
	line := func(b, prefix string) string { // the first line starting with prefix
		for l := range strings.Lines(b) {
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix))
			}
		}
		return ""
	}
	hidden, xss := c.hidden+".vcf", c.xss+".vcf"
	uid := line(body[hidden], "UID:")
	email := ""
	var withEmail string
	for _, n := range listed {
		if e := line(body[n], "EMAIL;TYPE=INTERNET:"); e != "" && strings.ContainsAny(e, "abcdefghijklmnopqrstuvwxyz") {
			email, withEmail = e, n
			break
		}
	}
	if uid == "" || email == "" {
		t.Fatalf("no UID on %s or no card with an e-mail address", hidden)
	}
	pf := func(name, inner string) string {
		return `<card:prop-filter name="` + name + `">` + inner + `</card:prop-filter>`
	}
	tm := func(attrs, text string) string {
		return `<card:text-match ` + attrs + `>` + text + `</card:text-match>`
	}
	filter := func(test string, pfs ...string) string {
		return `<card:filter test="` + test + `">` + strings.Join(pfs, "") + `</card:filter>`
	}
	for _, tc := range []struct {
		name, filter string
		want         []string
	}{
		{"FN contains (the default match type)", filter("anyof", pf("FN", tm(``, "三丰"))), []string{hidden}},
		{"FN equals", filter("anyof", pf("FN", tm(`match-type="equals"`, "张三丰"))), []string{hidden}},
		{"FN equals, a part only", filter("anyof", pf("FN", tm(`match-type="equals"`, "张三"))), nil},
		{"fn lower-cased, starts-with and ends-with", filter("anyof", pf("fn", tm(`match-type="starts-with"`, "张三")+tm(`match-type="ends-with"`, "onerror=alert(1)&gt;"))),
			[]string{hidden, xss}},
		{"UID equals", filter("anyof", pf("UID", tm(`match-type="equals"`, uid))), []string{hidden}},
		{"EMAIL upper-cased, i;unicode-casemap", filter("anyof", pf("EMAIL", tm(`match-type="equals" collation="i;unicode-casemap"`, strings.ToUpper(email)))), []string{withEmail}},
		{"EMAIL upper-cased, i;ascii-casecmp", filter("anyof", pf("EMAIL", tm(`match-type="equals" collation="i;ascii-casecmp"`, strings.ToUpper(email)))), []string{withEmail}},
		{"EMAIL upper-cased, i;octet", filter("anyof", pf("EMAIL", tm(`match-type="equals" collation="i;octet"`, strings.ToUpper(email)))), nil},
		{"negate-condition", filter("anyof", pf("FN", tm(`negate-condition="yes"`, "三丰"))), where(func(b string) bool { return !strings.Contains(b, "FN:张三丰") })},
		{"anyof over two prop-filters", filter("anyof", pf("FN", tm(`match-type="equals"`, "张三丰")), pf("UID", tm(`match-type="equals"`, line(body[xss], "UID:")))), []string{hidden, xss}},
		{"allof over two prop-filters", filter("allof", pf("FN", tm(``, "三丰")), pf("UID", tm(`match-type="equals"`, line(body[xss], "UID:")))), nil},
		{"allof inside a prop-filter", filter("anyof", `<card:prop-filter name="FN" test="allof">`+tm(`match-type="starts-with"`, "张")+tm(`match-type="ends-with"`, "丰")+`</card:prop-filter>`), []string{hidden}},
		{"EMAIL is-not-defined", filter("anyof", pf("EMAIL", `<card:is-not-defined/>`)), where(func(b string) bool { return !strings.Contains(b, "\nEMAIL") })},
		{"TEL defined", filter("anyof", pf("TEL", "")), where(func(b string) bool { return strings.Contains(b, "\nTEL") })},
		{"TEL's TYPE param-filter", filter("anyof", pf("TEL", `<card:param-filter name="type">`+tm(`match-type="equals"`, "cell")+`</card:param-filter>`)),
			where(func(b string) bool { return strings.Contains(b, "\nTEL;TYPE=CELL") })},
	} {
		got := cardNames(t, query(tc.filter, 0), book)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := len(where(func(b string) bool { return strings.Contains(b, "\nTEL;TYPE=CELL") })); n == 0 || n == len(listed) {
		t.Errorf("the TYPE=CELL case tests nothing: %d of %d", n, len(listed))
	}
	// a limit: that many cards, then 507 on the book
	ms := query("", 2)
	if len(ms.Responses) != 3 || ms.Responses[2].Href != book || !strings.Contains(ms.Responses[2].Status, "507") {
		t.Errorf("limit 2: %+v", ms.Responses)
	}
	if ms := query(filter("anyof", pf("FN", tm(``, "三丰"))), 2); len(ms.Responses) != 1 {
		t.Errorf("a limit above the matches truncated: %+v", ms.Responses)
	}
	// filter parts not served: 403 with the precondition
	for filt, cond := range map[string]string{
		filter("anyof", pf("FN", tm(`collation="i;nonesuch"`, "x"))):            "supported-collation",
		filter("anyof", pf("FN", tm(`match-type="regex"`, "x"))):                "supported-filter",
		filter("oneof", pf("FN", "")):                                           "supported-filter",
		filter("anyof", pf("FN", `<card:is-not-defined/>`+tm(``, "x"))):         "supported-filter",
		filter("anyof", `<card:prop-filter>`+tm(``, "x")+`</card:prop-filter>`): "supported-filter",
		`<card:filter><card:comp-filter name="VCARD"/></card:filter>`:           "supported-filter",
	} {
		resp, out := dev.req("REPORT", book, queryReport(filt, 0), nil)
		if resp.StatusCode != 403 || !strings.Contains(out, "<card:"+cond+"/>") {
			t.Errorf("%s: %d %s, want 403 %s", filt, resp.StatusCode, out, cond)
		}
	}
}
