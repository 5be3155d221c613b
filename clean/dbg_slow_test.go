package clean
import ("testing";"fmt";"github.com/dingbook/dingbook/source/gen")
func TestDbgSlow(t *testing.T) {
	tr := gen.Generate(gen.Options{Users: 20000, Seed: 1})
	kinds := map[string]int{}
	ex := map[string][]string{}
	total := 0
	for _, p := range tr.Org.People {
		if p.Mobile == "" { continue }
		total++
		s, _ := cleanPhone(p.Mobile)
		cc, r := stateCodeRegion(p.StateCode)
		_ = cc
		if r == "" { r = "CN" }
		if _, ok := fastE164(s, r); ok { kinds["fast"]++; continue }
		_, ok := E164(p.Mobile, p.StateCode, "CN")
		k := fmt.Sprintf("sc=%s valid=%v", p.StateCode, ok)
		kinds[k]++
		if len(ex[k]) < 6 { ex[k] = append(ex[k], p.Mobile) }
	}
	t.Log(total, kinds)
	for k, v := range ex { t.Log(k, v) }
}
