package vcard

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mozillazg/go-pinyin"
)

// compoundSurnames are two-character surnames (formats.md §1.3, plus the
// remaining ones of the 百家姓 and their traditional forms).
var compoundSurnames = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`
		欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐
		轩辕 端木 独孤 南宫 呼延 万俟 闻人 澹台 钟离 宗政 濮阳 淳于 赫连 拓跋 百里
		东郭 西门 单于 申屠 公羊 公冶 太叔 仲孙 鲜于 闾丘 亓官 司寇 子车 颛孙 壤驷
		公良 漆雕 乐正 宰父 谷梁 段干 左丘 东门 梁丘 微生 羊舌 巫马 公西 第五 南门
		歐陽 司馬 諸葛 東方 尉遲 公孫 長孫 軒轅 獨孤 南宮 萬俟 聞人 澹臺 鍾離 濮陽
		赫連 東郭 西門 單于 閭丘 顓孫 壤駟 樂正 穀梁 東門 巫馬`) {
		compoundSurnames[s] = true
	}
}

// surnameReadings are the fixed readings of surnames that a generic
// converter gets wrong (formats.md §1.3). Keys are whole family names.
var surnameReadings = map[string]string{
	"单": "Shan", "解": "Xie", "曾": "Zeng", "区": "Ou", "仇": "Qiu", "朴": "Piao",
	"查": "Zha", "盖": "Ge", "乐": "Yue", "尉": "Wei", "万": "Wan", "沈": "Shen",
	"翟": "Zhai", "秘": "Bi", "繁": "Po", "覃": "Qin", "种": "Chong", "缪": "Miao",
	"召": "Shao", "隗": "Wei", "冼": "Xian", "员": "Yun", "藏": "Zang", "贲": "Ben",
	"纪": "Ji", "宁": "Ning", "折": "She", "那": "Na", "柏": "Bai", "过": "Guo",
	"祭": "Zhai", "句": "Gou", "阚": "Kan", "黑": "He", "长": "Chang", "薄": "Bo",
	"都": "Du", "华": "Hua", "任": "Ren", "能": "Nai", "相": "Xiang", "燕": "Yan",
	"尉迟": "Yuchi", "万俟": "Moqi", "长孙": "Zhangsun", "单于": "Chanyu",
	"澹台": "Tantai", "乐正": "Yuezheng", "令狐": "Linghu", "尉遲": "Yuchi",
	"萬俟": "Moqi", "長孫": "Zhangsun", "單于": "Chanyu", "澹臺": "Tantai",
	"樂正": "Yuezheng",
}

// noFamilyName are dialling codes of countries where many names have no
// family name (Indonesia, Malaysia, Myanmar, Brunei): Latin names from
// there are never split.
var noFamilyName = map[string]bool{"62": true, "60": true, "95": true, "673": true}

// familyFirst are dialling codes where Latin-script names put the family
// name first (Vietnam).
var familyFirst = map[string]bool{"84": true}

// SplitName splits a name into family and given names without knowing the
// person's country:
//
//   - a Han name of 2–4 characters: the first two characters are the family
//     name when they form a compound surname (欧阳娜娜 → 欧阳/娜娜) and the
//     name has 3 or 4 characters, else the first character (王小明 → 王/小明);
//     a Han name written with one space (王 小明) splits at the space;
//   - anything else (Latin letters, `·` as in 买买提·艾力, one Han
//     character, more than 4) is not split: family "" and given = name.
//
// Latin names are never split here because "Siti Nurhaliza" (no family
// name) and "John Smith" cannot be told apart from the string alone; see
// SplitNameFor.
func SplitName(name string) (family, given string, split bool) {
	name = strings.Join(strings.Fields(name), " ")
	parts := strings.Split(name, " ")
	if len(parts) == 2 && isHan(parts[0]) && isHan(parts[1]) && utf8.RuneCountInString(parts[0]) <= 2 {
		return parts[0], parts[1], true
	}
	if !isHan(name) {
		return "", name, false
	}
	n := utf8.RuneCountInString(name)
	if n < 2 || n > 4 {
		return "", name, false
	}
	r := []rune(name)
	if n >= 3 && compoundSurnames[string(r[:2])] {
		return string(r[:2]), string(r[2:]), true
	}
	return string(r[:1]), string(r[1:]), true
}

// SplitNameFor is SplitName plus a rule for Latin-script names of two or
// more words, decided by the person's dialling code (state_code):
//
//   - empty (unknown), or 62/60/95/673 (Indonesia, Malaysia, Myanmar,
//     Brunei, where many names have no family name: "Sukarno",
//     "Siti Nurhaliza", "Ahmad bin Ismail"): not split, N = ;<name>;;;;
//   - 84 (Vietnam): family name first (Nguyen Van An → Nguyen / Van An);
//   - any other: Western order, split at the last space
//     (John Smith → Smith / John).
//
// A wrong family name is worse than none (iOS and Android sort and show by
// it), so the rule splits only where the convention is known.
func SplitNameFor(name, stateCode string) (family, given string, split bool) {
	family, given, split = SplitName(name)
	if split {
		return
	}
	stateCode = strings.TrimPrefix(strings.TrimSpace(stateCode), "+")
	if stateCode == "" || noFamilyName[stateCode] || !isLatinName(given) {
		return
	}
	i := strings.LastIndexByte(given, ' ')
	if i < 0 {
		return
	}
	if familyFirst[stateCode] {
		j := strings.IndexByte(given, ' ')
		return given[:j], given[j+1:], true
	}
	return given[i+1:], given[:i], true
}

// isHan reports whether s is non-empty and made only of Han characters.
func isHan(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
	}
	return true
}

// isLatinName reports whether s is Latin letters with spaces, hyphens,
// apostrophes and periods.
func isLatinName(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Latin, r):
			letters++
		case r == ' ' || r == '-' || r == '\'' || r == '.' || r == '’' || unicode.Is(unicode.Mn, r):
		default:
			return false
		}
	}
	return letters > 0
}

var pinyinArgs = pinyin.NewArgs()

// pinyinCache holds each Han character's reading once looked up: go-pinyin
// styles every reading with regular expressions, which a million names
// would otherwise pay for again and again.
var pinyinCache sync.Map // rune → string

// runePinyin is the first reading of a Han character, "" if it has none.
func runePinyin(r rune) string {
	if s, ok := pinyinCache.Load(r); ok {
		return s.(string)
	}
	s := ""
	if py := pinyin.SinglePinyin(r, pinyinArgs); len(py) > 0 {
		s = py[0]
	}
	pinyinCache.Store(r, s)
	return s
}

// Phonetic returns the pinyin of s without tones or spaces, the first
// letter capitalised: 小明 → "Xiaoming". ü is written "v" (the pinyin
// keyboard convention: 吕 → "Lv"). Latin letters and digits are kept;
// other characters are dropped. Use PhoneticFamily for family names.
func Phonetic(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Han, r):
			b.WriteString(runePinyin(r))
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		}
	}
	return capitalise(b.String())
}

// PhoneticFamily is Phonetic for a family name, with the fixed surname
// readings (单 Shan, 曾 Zeng, 尉迟 Yuchi, 万俟 Moqi…) taking precedence.
func PhoneticFamily(family string) string {
	if r, ok := surnameReadings[family]; ok {
		return r
	}
	return Phonetic(family)
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
}
