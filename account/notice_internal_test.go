package account

import (
	"regexp"
	"slices"
	"testing"
)

// TestNoticeTextsAgree: the notices are a table of formats per language
// filled with the same arguments line by line, so every language's line
// must take the verbs the English line takes, in the same order.
func TestNoticeTextsAgree(t *testing.T) {
	verb := regexp.MustCompile(`%[a-z]`)
	tables := map[string]map[string][]string{"authority": {}, "person": {}}
	for lang, l := range authorityText {
		tables["authority"][lang] = l[:]
	}
	for lang, l := range personText {
		tables["person"][lang] = l[:]
	}
	for name, table := range tables {
		for _, lang := range Langs {
			if _, ok := table[lang]; !ok {
				t.Errorf("%s notice has no %s text", name, lang)
			}
		}
		for lang, lines := range table {
			for i, line := range lines {
				if got, want := verb.FindAllString(line, -1), verb.FindAllString(table["en"][i], -1); !slices.Equal(got, want) {
					t.Errorf("%s notice (%s) line %d takes %v, the English line takes %v", name, lang, i, got, want)
				}
			}
		}
	}
}
