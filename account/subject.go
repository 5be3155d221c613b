package account

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/audit"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

// subject-report labels per language.
var subjectText = map[string]map[string]string{
	"en": {
		"title": "Answer to your request for access to your personal data", "person": "Person", "asof": "As of",
		"controller": "Controller", "dpo": "Data protection officer", "held": "1. What we hold about you (latest address book snapshot, %s)",
		"none": "(no stored snapshot holds you any more)", "given": "2. Who received your data, when and why",
		"nogiven": "(nobody: your data was in no export, grant, share or device)", "consent": "3. Your consents",
		"noconsent": "(none recorded)", "depts": "Departments", "expires": "must be deleted by", "purged": "deleted on",
		"revoked": "access revoked on", "held_until": "held until", "fields": "fields", "purpose": "purpose", "basis": "legal basis", "recipient": "recipient",
		"rights": "You may ask us to correct or delete your data, or withdraw a consent, by writing to the data protection officer.",
	},
	"id": {
		"title": "Jawaban atas permintaan akses Anda terhadap data pribadi Anda", "person": "Subjek data", "asof": "Per tanggal",
		"controller": "Pengendali", "dpo": "Pejabat pelindungan data pribadi", "held": "1. Data Anda yang kami simpan (snapshot buku alamat terbaru, %s)",
		"none": "(tidak ada snapshot tersimpan yang memuat Anda)", "given": "2. Siapa yang menerima data Anda, kapan, dan untuk apa",
		"nogiven": "(tidak ada: data Anda tidak ada dalam ekspor, izin, berbagi, atau perangkat mana pun)", "consent": "3. Persetujuan Anda",
		"noconsent": "(tidak ada yang tercatat)", "depts": "Departemen", "expires": "wajib dihapus paling lambat", "purged": "dihapus pada",
		"revoked": "akses dicabut pada", "held_until": "disimpan hingga", "fields": "kolom", "purpose": "tujuan", "basis": "dasar hukum", "recipient": "penerima",
		"rights": "Anda dapat meminta kami memperbaiki atau menghapus data Anda, atau menarik persetujuan, dengan menulis kepada pejabat pelindungan data pribadi.",
	},
	"zh": {
		"title": "关于您查阅个人信息请求的答复", "person": "个人", "asof": "截至",
		"controller": "个人信息处理者", "dpo": "个人信息保护负责人", "held": "一、我们持有的您的个人信息（最新通讯录快照，%s）",
		"none": "（已无任何快照包含您）", "given": "二、您的个人信息提供给了谁、何时、为何",
		"nogiven": "（无：您的信息不在任何导出、授权、分享或设备中）", "consent": "三、您的同意记录",
		"noconsent": "（无记录）", "depts": "部门", "expires": "应删除期限", "purged": "已删除于",
		"revoked": "已撤销访问于", "held_until": "保存至", "fields": "字段", "purpose": "目的", "basis": "法律依据", "recipient": "接收方",
		"rights": "您可以通过联系个人信息保护负责人要求更正或删除您的个人信息，或撤回同意。",
	},
}

// SubjectReport writes the answer to an access request (PIPL Art. 45, UU
// PDP Art. 7) for the person query names, in lang: what dingbook holds
// about them (the latest snapshot), who received it, when and why, when
// each copy expires, and their consents. It is recorded in the audit
// chain (with the person's keyed hash, not their id).
func SubjectReport(ctx context.Context, db *store.DB, pol *policy.Policy, query, lang, actor string, now time.Time) (string, string, error) {
	tx, ok := subjectText[lang]
	if !ok {
		return "", "", &dingbook.Error{Code: dingbook.EINVALID, Message: fmt.Sprintf("--lang %q is not known", lang), Hint: "use --lang en, id or zh"}
	}
	person, keys, err := Resolve(ctx, db, query)
	if err != nil {
		return "", "", err
	}
	p, sid, err := db.LatestPerson(ctx, person)
	if err != nil {
		return "", "", err
	}
	hs, err := holdingsOf(ctx, db, keys, time.Time{})
	if err != nil {
		return "", "", err
	}
	cs, err := db.CurrentConsents(ctx, "", person)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
	w("%s", tx["title"])
	w("%s: %s", tx["person"], person)
	w("%s: %s", tx["asof"], day(now))
	w("%s: %s; %s: %s", tx["controller"], pol.Company, tx["dpo"], pol.DPOContact)
	w("")
	if p == nil {
		w(tx["held"], "-")
		w("  %s", tx["none"])
	} else {
		w(tx["held"], fmt.Sprintf("#%d", sid))
		for _, kv := range personFields(p, lang) {
			w("  %s: %s", kv[0], kv[1])
		}
		if dir, err := db.Directory(ctx, sid); err == nil && len(p.Depts) > 0 {
			tree := dingbook.NewTree(dir.Departments())
			var paths []string
			for _, id := range p.DeptIDs() {
				paths = append(paths, tree.PathString(id, "/"))
			}
			w("  %s: %s", tx["depts"], strings.Join(paths, "; "))
		}
	}
	w("")
	w("%s", tx["given"])
	if len(hs) == 0 {
		w("  %s", tx["nogiven"])
	}
	for _, h := range hs {
		state := tx["expires"] + " " + day(h.Expires)
		switch {
		case h.Purged != nil:
			state = tx["purged"] + " " + day(*h.Purged)
		case h.Revoked != nil:
			state = tx["revoked"] + " " + day(*h.Revoked)
		}
		w("  - %s %s (%s %s): %s \"%s\"; %s %s; %s: %s %s; %s: %s; %s", day(h.Time), h.Kind, h.Ref, h.Actor, tx["purpose"], h.Purpose, tx["basis"], nonEmpty(h.Basis, "-"),
			tx["recipient"], nonEmpty(h.Recipient, pol.Company), h.RecipientCountry, tx["fields"], fieldNames(h.Fields, lang), state)
	}
	w("")
	w("%s", tx["consent"])
	if len(cs) == 0 {
		w("  %s", tx["noconsent"])
	}
	for _, c := range cs {
		w("  - %s: %s %s (%s)", c.Purpose, c.State, day(c.Time), nonEmpty(c.Reference, "-"))
	}
	w("")
	w("%s", tx["rights"])

	key, err := store.HolderKey(db.Dir)
	if err != nil {
		return "", "", err
	}
	_, err = audit.Append(ctx, db, audit.Record{Time: now, Actor: nonEmpty(actor, "unknown"), Action: ActionSubjectReport, Rows: len(hs), PolicyHash: pol.Hash,
		Details: map[string]string{"person_hmac": fmt.Sprintf("%016x", store.NewHasherScheme(key, store.HashHMAC).Sum(person)), "lang": lang, "holdings": fmt.Sprint(len(hs))}})
	return person, b.String(), err
}

// personFields lists a person's non-empty fields with their headers in
// lang, read through the domain's accessor table.
func personFields(p *dingbook.Person, lang string) [][2]string {
	var out [][2]string
	add := func(key, v string) {
		if strings.TrimSpace(v) == "" {
			return
		}
		name := key
		if f, ok := dingbook.FieldByKey(key); ok {
			name = f.Header(lang)
		}
		out = append(out, [2]string{name, v})
	}
	for _, k := range []string{"userid", "name", "job_number", "title", "mobile", "telephone", "email", "org_email", "work_place", "remark", "hired_date", "manager_userid"} {
		f, _ := dingbook.FieldByKey(k)
		var v string
		switch f.Kind {
		case dingbook.KindText:
			v = *f.Text(p)
			if k == "mobile" && v != "" && p.StateCode != "" {
				v = "+" + p.StateCode + " " + v
			}
		case dingbook.KindDate:
			if p.HiredDate > 0 {
				v = time.UnixMilli(p.HiredDate).UTC().Format("2006-01-02")
			}
		}
		add(k, v)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Extension)) {
		add(dingbook.ExtensionPrefix+k, p.Extension[k])
	}
	return out
}
