package account

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dingbook/dingbook"
	"github.com/dingbook/dingbook/policy"
	"github.com/dingbook/dingbook/store"
)

type noticeData struct {
	in         *store.Incident
	h          *store.Holding
	pol        *policy.Policy
	seal       string
	now        time.Time
	unresolved int
}

// fieldNames lists the fields in lang, as the export headers name them.
func fieldNames(fields []string, lang string) string {
	out := make([]string, len(fields))
	for i, k := range fields {
		if f, ok := dingbook.FieldByKey(k); ok {
			out[i] = f.Header(lang)
		} else {
			out[i] = k
		}
	}
	sep := ", "
	if lang == "zh" {
		sep = "、"
	}
	return strings.Join(out, sep)
}

// contactData reports whether the fields reach the people directly (phone
// or e-mail), which changes the likely harm.
func contactData(fields []string) bool {
	for _, f := range fields {
		if strings.Contains(f, "mobile") || strings.Contains(f, "email") || f == "telephone" {
			return true
		}
	}
	return false
}

func sensitiveData(pol *policy.Policy, fields []string) bool {
	return slices.ContainsFunc(fields, func(f string) bool { c, _ := pol.Class(f); return c == dingbook.ClassSensitive })
}

func (d *noticeData) t(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func (d *noticeData) hoursLeft(lang string) string {
	h := HoursLeft(d.in, d.now)
	if h < 0 {
		switch lang {
		case "id":
			return fmt.Sprintf("TERLAMBAT %.1f jam", -h)
		case "zh":
			return fmt.Sprintf("已超时 %.1f 小时", -h)
		}
		return fmt.Sprintf("OVERDUE by %.1f hours", -h)
	}
	switch lang {
	case "id":
		return fmt.Sprintf("sisa %.1f jam", h)
	case "zh":
		return fmt.Sprintf("剩余 %.1f 小时", h)
	}
	return fmt.Sprintf("%.1f hours left", h)
}

func (d *noticeData) sealText(lang string) string {
	switch d.seal {
	case "zip", "age":
		return map[string]string{"en": "encrypted with AES-256 (" + d.seal + "); the passphrase was never stored with it",
			"id": "terenkripsi AES-256 (" + d.seal + "); kata sandinya tidak pernah disimpan bersamanya",
			"zh": "已用 AES-256 加密（" + d.seal + "），密码从未与文件一同保存"}[lang]
	case "none":
		return map[string]string{"en": "NOT encrypted", "id": "TIDAK terenkripsi", "zh": "未加密"}[lang]
	}
	return "-"
}

func (d *noticeData) revoked(lang string) string {
	if len(d.in.Revoked) > 0 {
		return strings.Join(d.in.Revoked, ", ")
	}
	return map[string]string{"en": "nothing to revoke (a bundle is out of dingbook's hands); the holder was asked to delete it",
		"id": "tidak ada yang dapat dicabut (paket berada di luar kendali dingbook); pemegangnya diminta menghapusnya",
		"zh": "无可撤销项（文件包已不在 dingbook 控制之下）；已要求持有人删除"}[lang]
}

// authorityText is the authority notice in each language, a format a
// line; every language takes the same arguments line by line.
var authorityText = map[string][13]string{
	"en": {
		"PERSONAL DATA BREACH NOTIFICATION - incident %s",
		"To: the personal information protection authority (PIPL Art. 57) / the personal data protection institution (UU PDP Art. 46)",
		"From: %s; data protection officer: %s",
		"Notice due by %s (3 x 24 hours after discovery; %s)",
		"",
		"1. Personal data involved (categories): %s; %d people affected%s.",
		"2. When and how: discovered %s. %s",
		"   The data was in %s %s, made %s for the purpose \"%s\" (legal basis %s), given to %s, due for deletion %s; %s.",
		"3. Cause: %s",
		"4. Possible consequences and harm: %s.",
		"5. Remedies taken by the controller: %s; the incident is recorded in the audit log (record %d).",
		"6. What the affected people can do: be wary of calls, messages and e-mails that use this information; do not disclose passwords or verification codes; report suspicious contact to the data protection officer.",
		"7. Contact: %s, data protection officer: %s.",
	},
	"id": {
		"PEMBERITAHUAN KEGAGALAN PELINDUNGAN DATA PRIBADI - insiden %s",
		"Kepada: lembaga penyelenggara pelindungan data pribadi (UU PDP Pasal 46) / otoritas pelindungan informasi pribadi (PIPL Pasal 57)",
		"Dari: %s; pejabat pelindungan data pribadi: %s",
		"Batas waktu pemberitahuan: %s (3 x 24 jam sejak diketahui; %s)",
		"",
		"1. Data pribadi yang terungkap: %s; %d orang terdampak%s.",
		"2. Kapan dan bagaimana: diketahui pada %s. %s",
		"   Data berada dalam %s %s, dibuat %s untuk tujuan \"%s\" (dasar hukum %s), diberikan kepada %s, wajib dihapus %s; %s.",
		"3. Penyebab: %s",
		"4. Kemungkinan akibat: %s.",
		"5. Upaya penanganan dan pemulihan oleh pengendali: %s; insiden dicatat dalam log audit (catatan %d).",
		"6. Yang dapat dilakukan subjek data: waspadai panggilan, pesan, dan surel yang memakai informasi ini; jangan memberikan kata sandi atau kode verifikasi; laporkan kontak mencurigakan kepada pejabat pelindungan data pribadi.",
		"7. Kontak: %s, pejabat pelindungan data pribadi: %s.",
	},
	"zh": {
		"个人信息安全事件报告 - 事件编号 %s",
		"报送：履行个人信息保护职责的部门（《个人信息保护法》第五十七条）/ 印度尼西亚个人数据保护机构（UU PDP 第46条）",
		"报告单位：%s；个人信息保护负责人：%s",
		"报告时限：%s（发现后 3×24 小时；%s）",
		"",
		"一、涉及的个人信息种类：%s；受影响人数 %d 人%s。",
		"二、发生时间与经过：发现时间 %s。%s",
		"    数据所在：%s %s，生成于 %s，处理目的“%s”（法律依据 %s），接收方 %s，应于 %s 前删除；%s。",
		"三、原因：%s",
		"四、可能造成的危害：%s。",
		"五、已采取的补救措施：%s；事件已记入审计日志（第 %d 条）。",
		"六、个人可采取的减轻危害的措施：警惕利用上述信息的来电、短信和邮件；不要透露密码或验证码；如遇可疑联系请告知个人信息保护负责人。",
		"七、联系方式：%s，个人信息保护负责人：%s。",
	},
}

// authorityNotice is the notice to the authority with the items of PIPL
// Art. 57 (categories, cause, possible harm, remedies, what people can do,
// contact) and UU PDP Art. 46 (what data, when and how, consequences,
// remedies, contact).
func authorityNotice(d *noticeData, lang string) string {
	in, h, pol := d.in, d.h, d.pol
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	harm := map[string]string{
		"en": "the affected people's names and positions may become known to third parties",
		"id": "nama dan jabatan orang yang terdampak dapat diketahui pihak ketiga",
		"zh": "受影响人员的姓名和职务可能被第三方知悉",
	}[lang]
	if contactData(h.Fields) {
		harm += map[string]string{
			"en": "; their phone numbers or e-mail addresses may be used for unsolicited calls, phishing or fraud",
			"id": "; nomor telepon atau alamat surel mereka dapat disalahgunakan untuk panggilan yang tidak diinginkan, phishing, atau penipuan",
			"zh": "；其电话号码或电子邮箱可能被用于骚扰、网络钓鱼或诈骗",
		}[lang]
	}
	if sensitiveData(pol, h.Fields) {
		harm += map[string]string{
			"en": "; sensitive personal information is involved, with a risk of discrimination or financial loss",
			"id": "; data pribadi yang bersifat spesifik terlibat, dengan risiko diskriminasi atau kerugian finansial",
			"zh": "；涉及敏感个人信息，存在歧视或财产损失风险",
		}[lang]
	}
	unres := ""
	if d.unresolved > 0 {
		unres = fmt.Sprintf(map[string]string{"en": " (%d of them are no longer in any stored snapshot)", "id": " (%d di antaranya tidak lagi ada di snapshot mana pun)", "zh": "（其中 %d 人已不在任何已存快照中）"}[lang], d.unresolved)
	}
	l, ok := authorityText[lang]
	if !ok {
		return ""
	}
	w(l[0], in.ID)
	w(l[1])
	w(l[2], pol.Company, pol.DPOContact)
	w(l[3], d.t(in.Deadline), d.hoursLeft(lang))
	w(l[4])
	w(l[5], fieldNames(h.Fields, lang), in.People, unres)
	w(l[6], d.t(in.DiscoveredAt), in.Description)
	w(l[7], h.Kind, h.Ref, d.t(h.Time), h.Purpose, nonEmpty(h.Basis, "-"), nonEmpty(h.Recipient, pol.Company), d.t(h.Expires), d.sealText(lang))
	w(l[8], in.Description)
	w(l[9], harm)
	w(l[10], d.revoked(lang), in.AuditSeq)
	w(l[11])
	w(l[12], pol.Company, pol.DPOContact)
	return b.String()
}

// personText is the notice to each person in each language, a format a
// line; every language takes the same arguments line by line.
var personText = map[string][9]string{
	"en": {
		"Subject: Notice of a personal data incident (%s)",
		"",
		"Dear «name»,",
		"",
		"On %s we discovered that a copy of the company address book holding your data may have been exposed: %s",
		"Your data in it: %s. The copy was made on %s for \"%s\"; it was %s.",
		"What we did: %s.",
		"What you can do: be wary of calls, messages and e-mails that use this information; never disclose passwords or verification codes.",
		"Questions: %s, data protection officer %s.",
	},
	"id": {
		"Perihal: Pemberitahuan insiden data pribadi (%s)",
		"",
		"Yth. «name»,",
		"",
		"Pada %s kami mengetahui bahwa salinan buku alamat perusahaan yang memuat data Anda mungkin telah terungkap: %s",
		"Data Anda di dalamnya: %s. Salinan dibuat pada %s untuk \"%s\"; salinan %s.",
		"Yang telah kami lakukan: %s.",
		"Yang dapat Anda lakukan: waspadai panggilan, pesan, dan surel yang memakai informasi ini; jangan pernah memberikan kata sandi atau kode verifikasi.",
		"Pertanyaan: %s, pejabat pelindungan data pribadi %s.",
	},
	"zh": {
		"主题：个人信息安全事件告知（%s）",
		"",
		"«name»，您好：",
		"",
		"我们于 %s 发现，一份含有您个人信息的公司通讯录副本可能已泄露：%s",
		"其中涉及您的信息：%s。该副本生成于 %s，用途为“%s”；%s。",
		"我们已采取的措施：%s。",
		"您可以采取的措施：警惕利用上述信息的来电、短信和邮件；切勿透露密码或验证码。",
		"如有疑问，请联系%s个人信息保护负责人：%s。",
	},
}

// personNotice is the notice to each affected person, with the
// placeholder «name» for the mail merge (people.csv's name column).
func personNotice(d *noticeData, lang string) string {
	in, h, pol := d.in, d.h, d.pol
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	l, ok := personText[lang]
	if !ok {
		return ""
	}
	w(l[0], in.ID)
	w(l[1])
	w(l[2])
	w(l[3])
	w(l[4], d.t(in.DiscoveredAt), in.Description)
	w(l[5], fieldNames(h.Fields, lang), d.t(h.Time), h.Purpose, d.sealText(lang))
	w(l[6], d.revoked(lang))
	w(l[7])
	w(l[8], pol.Company, pol.DPOContact)
	return b.String()
}
