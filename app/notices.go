package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dingbook/dingbook/source/dingtalk"
)

// Work notices of export requests and grants (issue 11): each recipient
// gets the notice in the language they chose in the portal (their
// session's), or in all three when dingbook does not know it.

// NoticeLangs are the languages of the notices, in the order a notice in
// all of them lists them.
var NoticeLangs = []string{"en", "id", "zh"}

// Say renders the notice text key with args in lang ("en", "id", "zh");
// the front end's catalogue ('serve' sets it).
type Say func(lang, key string, args ...any) string

// noticeArg is the longest a free text (a purpose, a reason) may be in a
// notice, in runes: three languages and a link fit DingTalk's 2 KB.
const noticeArg = 60

// short cuts a free text for a notice.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > noticeArg {
		return string(r[:noticeArg-1]) + "…"
	}
	return s
}

// notice is one work notice to send: key with args, then the link.
type notice struct {
	client *dingtalk.Client
	say    Say
	key    string
	args   []any
	link   string
}

// text is the notice in lang ("": every language, one paragraph each).
func (n notice) text(lang string) string {
	say := n.say
	if say == nil {
		say = func(_, key string, args ...any) string { return strings.TrimSpace(key + " " + fmt.Sprint(args...)) }
	}
	langs := []string{lang}
	if lang == "" {
		langs = NoticeLangs
	}
	var parts []string
	for _, l := range langs {
		parts = append(parts, say(l, n.key, n.args...))
	}
	if n.link != "" {
		parts = append(parts, n.link)
	}
	return strings.Join(parts, "\n")
}

// send sends the notice to users, grouped by the language each chose; it
// returns how each was addressed ("userid:lang", "userid:all") and the
// first failure (the other groups are still sent).
func (n notice) send(ctx context.Context, a *App, users []string) (string, error) {
	byLang := map[string][]string{}
	var how []string
	for _, u := range users {
		lang, err := a.DB.UserLang(ctx, u)
		if err != nil || !slices.Contains(NoticeLangs, lang) {
			lang = ""
		}
		byLang[lang] = append(byLang[lang], u)
		how = append(how, u+":"+cmp.Or(lang, "all"))
	}
	var first error
	for _, lang := range append([]string{""}, NoticeLangs...) {
		if len(byLang[lang]) == 0 {
			continue
		}
		if _, err := n.client.SendWorkNotice(ctx, dingtalk.WorkNotice{UserIDs: byLang[lang], Msg: dingtalk.TextMsg(n.text(lang))}); err != nil && first == nil {
			first = err
		}
	}
	return strings.Join(how, ","), first
}
