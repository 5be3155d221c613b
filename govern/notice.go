package govern

import (
	"fmt"
	"strings"
	"time"

	"github.com/dingbook/dingbook/seal"
)

// Notice renders NOTICE.txt for a bundle in English, Indonesian and
// Chinese: purpose, legal basis, expiry, handling rules, the company and
// the DPO contact.
func Notice(m *Manifest) string {
	exp := m.Expires.UTC().Format("2006-01-02 15:04 UTC")
	created := m.Created.UTC().Format(time.RFC3339)
	var b strings.Builder
	fmt.Fprintf(&b, "dingbook export %s\r\n", m.ExportID)
	fmt.Fprintf(&b, "%s\r\n\r\n", strings.Repeat("=", 60))

	fmt.Fprintf(&b, "[English]\r\n")
	fmt.Fprintf(&b, "This bundle contains personal data from the address book of %s, exported on %s.\r\n", m.Company, created)
	fmt.Fprintf(&b, "Purpose: %s\r\nLegal basis: %s\r\nRows: %d; fields: %s\r\n", m.Purpose, m.Basis, m.Rows, strings.Join(m.Fields, ", "))
	if t := m.Transfer; t.Recipient != "" || t.RecipientCountry != "" {
		fmt.Fprintf(&b, "Recipient: %s; country: %s; contract/mechanism: %s; consent: %s; impact assessment: %s\r\n", nonEmpty(t.Recipient, m.Company), nonEmpty(t.RecipientCountry, "-"), refs(t.Contract, t.Mechanism), nonEmpty(t.ConsentRef, "-"), nonEmpty(t.PIA, "-"))
	}
	if g := m.Grant; g != nil {
		fmt.Fprintf(&b, "Grant %s (request %s) to %s, approved by %s, valid until %s; confidentiality terms version %s accepted.\r\n", g.ID, g.Request, g.Grantee, strings.Join(g.Approvers, ", "), g.Expires.UTC().Format("2006-01-02 15:04 UTC"), g.TermsVersion)
	}
	fmt.Fprintf(&b, "Delete this bundle and every copy by %s.\r\n", exp)
	fmt.Fprintf(&b, "Use it only for the purpose above. Do not use it for marketing, do not sell it, do not pass it on.\r\n")
	if m.Seal == seal.KindNone {
		fmt.Fprintf(&b, "This bundle is NOT encrypted (the policy allows --encrypt none): keep it on encrypted storage only. Delete it after use.\r\n")
	} else {
		fmt.Fprintf(&b, "Keep it encrypted; send the passphrase separately from the file. Delete it after use.\r\n")
	}
	fmt.Fprintf(&b, "Questions or a suspected leak: data protection officer, %s.\r\n\r\n", m.DPOContact)

	fmt.Fprintf(&b, "[Bahasa Indonesia]\r\n")
	fmt.Fprintf(&b, "Paket ini berisi data pribadi dari buku alamat %s, diekspor pada %s.\r\n", m.Company, created)
	fmt.Fprintf(&b, "Tujuan: %s\r\nDasar hukum: %s\r\nBaris: %d; kolom: %s\r\n", m.Purpose, m.Basis, m.Rows, strings.Join(m.Fields, ", "))
	if t := m.Transfer; t.Recipient != "" || t.RecipientCountry != "" {
		fmt.Fprintf(&b, "Penerima: %s; negara: %s; kontrak/mekanisme: %s; persetujuan: %s; penilaian dampak: %s\r\n", nonEmpty(t.Recipient, m.Company), nonEmpty(t.RecipientCountry, "-"), refs(t.Contract, t.Mechanism), nonEmpty(t.ConsentRef, "-"), nonEmpty(t.PIA, "-"))
	}
	if g := m.Grant; g != nil {
		fmt.Fprintf(&b, "Izin %s (permintaan %s) untuk %s, disetujui oleh %s, berlaku sampai %s; ketentuan kerahasiaan versi %s telah diterima.\r\n", g.ID, g.Request, g.Grantee, strings.Join(g.Approvers, ", "), g.Expires.UTC().Format("2006-01-02 15:04 UTC"), g.TermsVersion)
	}
	fmt.Fprintf(&b, "Hapus paket ini beserta semua salinannya paling lambat %s.\r\n", exp)
	fmt.Fprintf(&b, "Gunakan hanya untuk tujuan di atas. Dilarang digunakan untuk pemasaran, dijual, atau diteruskan kepada pihak lain.\r\n")
	if m.Seal == seal.KindNone {
		fmt.Fprintf(&b, "Paket ini TIDAK terenkripsi (kebijakan mengizinkan --encrypt none): simpan hanya di penyimpanan terenkripsi. Hapus setelah digunakan.\r\n")
	} else {
		fmt.Fprintf(&b, "Simpan dalam keadaan terenkripsi; kirim kata sandi terpisah dari berkas. Hapus setelah digunakan.\r\n")
	}
	fmt.Fprintf(&b, "Pertanyaan atau dugaan kebocoran: pejabat pelindungan data pribadi, %s.\r\n\r\n", m.DPOContact)

	fmt.Fprintf(&b, "[中文]\r\n")
	fmt.Fprintf(&b, "本文件包含%s通讯录中的个人信息，导出时间：%s。\r\n", m.Company, created)
	fmt.Fprintf(&b, "处理目的：%s\r\n法律依据：%s\r\n行数：%d；字段：%s\r\n", m.Purpose, m.Basis, m.Rows, strings.Join(m.Fields, ", "))
	if t := m.Transfer; t.Recipient != "" || t.RecipientCountry != "" {
		fmt.Fprintf(&b, "接收方：%s；国家/地区：%s；合同/出境机制：%s；单独同意：%s；个人信息保护影响评估：%s\r\n", nonEmpty(t.Recipient, m.Company), nonEmpty(t.RecipientCountry, "-"), refs(t.Contract, t.Mechanism), nonEmpty(t.ConsentRef, "-"), nonEmpty(t.PIA, "-"))
	}
	if g := m.Grant; g != nil {
		fmt.Fprintf(&b, "授权 %s（申请 %s）授予 %s，由 %s 批准，有效期至 %s；已接受保密条款第 %s 版。\r\n", g.ID, g.Request, g.Grantee, strings.Join(g.Approvers, "、"), g.Expires.UTC().Format("2006-01-02 15:04 UTC"), g.TermsVersion)
	}
	fmt.Fprintf(&b, "请在 %s 之前删除本文件及其所有副本。\r\n", exp)
	fmt.Fprintf(&b, "仅限用于上述目的；不得用于营销，不得出售，不得转交他人。\r\n")
	if m.Seal == seal.KindNone {
		fmt.Fprintf(&b, "本文件未加密（策略允许 --encrypt none）：请仅存放在加密存储中；用完即删。\r\n")
	} else {
		fmt.Fprintf(&b, "请保持加密存放，密码与文件分开发送；用完即删。\r\n")
	}
	fmt.Fprintf(&b, "如有疑问或怀疑泄露，请联系个人信息保护负责人：%s。\r\n", m.DPOContact)
	return b.String()
}

func refs(contract, mechanism string) string {
	switch {
	case contract != "" && mechanism != "":
		return mechanism + " " + contract
	case contract != "" || mechanism != "":
		return contract + mechanism
	}
	return "-"
}
