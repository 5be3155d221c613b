package serve

import (
	"embed"
	"encoding/json"
	"net/http"

	"github.com/dingbook/dingbook/app"
	"sort"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The message catalogues: one JSON file per language in messages/, each a
// flat object of key → text (fmt verbs for arguments). Every string the
// server shows comes from here; TestCatalogues fails on a key missing in
// any language, or used in a template or handler but absent.
//
//go:embed messages/*.json
var messageFS embed.FS

// LangCookie remembers the language a person chose.
const LangCookie = "dingbook_lang"

// Languages are the languages served, the first the default.
var Languages = []language.Tag{language.English, language.Indonesian, language.Chinese}

var (
	messages    = catalog.NewBuilder(catalog.Fallback(language.English))
	messageKeys = map[string]map[string]string{} // lang → key → text
	// printers are each language's printer, made once (tr runs for every
	// text of every page)
	printers    = map[string]*message.Printer{}
	langMatcher = language.NewMatcher(Languages)
)

func init() {
	for _, tag := range Languages {
		b, err := messageFS.ReadFile("messages/" + tag.String() + ".json")
		if err != nil {
			panic("serve: catalogue " + tag.String() + ": " + err.Error())
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic("serve: catalogue " + tag.String() + ": " + err.Error())
		}
		messageKeys[tag.String()] = m
		for k, v := range m {
			if err := messages.SetString(tag, k, v); err != nil {
				panic("serve: catalogue " + tag.String() + " key " + k + ": " + err.Error())
			}
		}
		printers[tag.String()] = message.NewPrinter(tag, message.Catalog(messages))
	}
}

// CatalogueKeys returns each language's keys, sorted (for tests).
func CatalogueKeys() map[string][]string {
	out := map[string][]string{}
	for lang, m := range messageKeys {
		for k := range m {
			out[lang] = append(out[lang], k)
		}
		sort.Strings(out[lang])
	}
	return out
}

// langName is the name of each language in itself, for the switcher.
var langName = map[string]string{"en": "English", "id": "Bahasa Indonesia", "zh": "中文"}

// pickLang chooses the language of a request: a valid cookie first, then
// the session's choice (sess may be nil), then Accept-Language, then
// English.
func pickLang(r *http.Request, sess *app.Session) string {
	if c, err := r.Cookie(LangCookie); err == nil {
		if _, ok := messageKeys[c.Value]; ok {
			return c.Value
		}
	}
	if sess != nil {
		if _, ok := messageKeys[sess.Lang]; ok {
			return sess.Lang
		}
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	_, i, conf := langMatcher.Match(tags...)
	if conf == language.No {
		return Languages[0].String()
	}
	return Languages[i].String()
}

// tr translates key into lang; a key absent from the catalogue shows as
// itself (and fails TestCatalogues).
func tr(lang, key string, args ...any) string {
	if _, ok := messageKeys[lang][key]; !ok {
		if _, ok := messageKeys["en"][key]; !ok {
			return key
		}
	}
	p := printers[lang]
	if p == nil {
		p = printers[Languages[0].String()] // the catalogue falls back to English
	}
	return p.Sprintf(key, args...)
}

// hasKey reports whether the English catalogue (the reference) has key.
func hasKey(key string) bool {
	_, ok := messageKeys["en"][key]
	return ok
}
