package gen

// Name pools. Each Chinese entry carries its pinyin so that e-mail local
// parts can be derived without a dictionary.

type zh struct{ han, py string }

var zhSurnames = []zh{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"},
	{"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"},
	{"马", "ma"}, {"朱", "zhu"}, {"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"高", "gao"},
	{"林", "lin"}, {"罗", "luo"}, {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"}, {"宋", "song"},
	{"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"}, {"邓", "deng"}, {"曹", "cao"},
	{"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"}, {"田", "tian"}, {"董", "dong"}, {"袁", "yuan"},
	{"潘", "pan"}, {"于", "yu"}, {"蒋", "jiang"}, {"蔡", "cai"}, {"余", "yu"}, {"杜", "du"},
	{"叶", "ye"}, {"程", "cheng"}, {"苏", "su"}, {"魏", "wei"}, {"吕", "lv"}, {"丁", "ding"},
	{"任", "ren"}, {"沈", "shen"},
}

// CompoundSurnames are the two-character surnames the generator uses; a
// name splitter must not cut them in half.
var CompoundSurnames = []string{"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "夏侯", "令狐", "长孙", "宇文", "司徒", "西门"}

var zhCompound = []zh{
	{"欧阳", "ouyang"}, {"司马", "sima"}, {"上官", "shangguan"}, {"诸葛", "zhuge"}, {"东方", "dongfang"},
	{"皇甫", "huangfu"}, {"尉迟", "yuchi"}, {"公孙", "gongsun"}, {"慕容", "murong"}, {"夏侯", "xiahou"},
	{"令狐", "linghu"}, {"长孙", "zhangsun"}, {"宇文", "yuwen"}, {"司徒", "situ"}, {"西门", "ximen"},
}

var zhGiven = []zh{
	{"伟", "wei"}, {"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"},
	{"杰", "jie"}, {"娟", "juan"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀", "xiu"},
	{"霞", "xia"}, {"平", "ping"}, {"刚", "gang"}, {"桂", "gui"}, {"英", "ying"}, {"华", "hua"},
	{"玉", "yu"}, {"萍", "ping"}, {"红", "hong"}, {"建", "jian"}, {"文", "wen"}, {"辉", "hui"},
	{"鹏", "peng"}, {"宇", "yu"}, {"浩", "hao"}, {"婷", "ting"}, {"雪", "xue"}, {"琳", "lin"},
	{"欣", "xin"}, {"子", "zi"}, {"梓", "zi"}, {"涵", "han"}, {"晨", "chen"}, {"一", "yi"},
	{"诺", "nuo"}, {"思", "si"}, {"佳", "jia"}, {"嘉", "jia"}, {"怡", "yi"}, {"博", "bo"},
	{"天", "tian"}, {"志", "zhi"}, {"海", "hai"}, {"波", "bo"}, {"东", "dong"}, {"峰", "feng"},
	{"倩", "qian"}, {"颖", "ying"}, {"晓", "xiao"}, {"慧", "hui"},
}

var idFirst = []string{"Budi", "Siti", "Agus", "Dewi", "Rina", "Putri", "Andi", "Wahyu", "Eko", "Sri",
	"Ahmad", "Nur", "Indah", "Fitri", "Rizky", "Dian", "Hendra", "Yusuf", "Ayu", "Bayu", "Dimas",
	"Lestari", "Adi", "Ratna", "Fajar", "Intan", "Galih", "Mega", "Teguh", "Wulan"}

var idLast = []string{"Santoso", "Wijaya", "Pratama", "Saputra", "Hidayat", "Kusuma", "Setiawan",
	"Nugroho", "Susanto", "Gunawan", "Siregar", "Nasution", "Simanjuntak", "Halim", "Hartono", "Lubis",
	"Purnomo", "Rahman", "Sihombing", "Wibowo"}

// idSingle are Indonesian mononyms (one name only).
var idSingle = []string{"Sukarno", "Suharto", "Mulyono", "Sutrisno", "Widodo", "Suparman", "Sumarni",
	"Darmadi", "Haryanto", "Slamet", "Parmin", "Tukiyem", "Suwarni", "Sugiyono"}

var enFirst = []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
	"David", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
	"Emily", "Oliver", "Sophie", "Jack", "Grace", "Henry", "Lucy"}

var enLast = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
	"Taylor", "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green",
	"Baker", "O'Brien", "Mitchell", "Carter"}

var zhDeptTop = []string{"研发中心", "市场部", "销售部", "财务部", "人力资源部", "行政部", "法务部", "采购部",
	"客服中心", "产品部", "运营部", "质量管理部", "数据中心", "供应链部", "战略发展部", "品牌部", "信息技术部",
	"安全部", "投资部", "审计部"}

var zhDeptSub = []string{"平台组", "前端组", "后端组", "测试组", "运维组", "华东区", "华南区", "华北区", "西南区",
	"北京分公司", "上海分公司", "深圳分公司", "杭州办事处", "一组", "二组", "三组", "招聘组", "薪酬组", "培训组",
	"渠道组", "大客户组", "设计组", "架构组", "算法组", "移动端组"}

var enDept = []string{"Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Operations",
	"Legal", "Procurement", "Customer Success", "Product", "Data Platform", "Quality Assurance",
	"Jakarta Office", "Surabaya Office", "Singapore Office", "Design", "Infrastructure", "Security",
	"Research", "Support"}

// oddDeptNames contain '-' or ',' (a few departments get one each).
var oddDeptNames = []string{"Sales - APAC", "研发-平台组", "Research, Development & Innovation", "市场,品牌部",
	"R&D - Mobile", "Finance, Tax & Audit", "华东-上海", "Ops, Jakarta"}

var titlesZh = []string{"软件工程师", "高级工程师", "产品经理", "销售经理", "会计", "人事专员", "行政助理", "法务专员",
	"采购专员", "客服代表", "运营专员", "测试工程师", "架构师", "总监", "数据分析师", "设计师"}

var titlesEn = []string{"Software Engineer", "Senior Engineer", "Product Manager", "Account Manager",
	"Accountant", "HR Specialist", "Office Assistant", "Legal Counsel", "Buyer", "Support Agent",
	"Operations Specialist", "QA Engineer", "Architect", "Director", "Data Analyst", "Designer"}

var workPlaces = []string{"上海市徐汇区漕河泾开发区", "北京市朝阳区望京SOHO", "杭州市西湖区文三路", "深圳市南山区科技园",
	"Jakarta Selatan, Gedung Cyber 2", "Surabaya, Jl. Basuki Rahmat", "成都市高新区天府软件园", "Singapore, 1 Raffles Place"}

var hobbies = []string{"旅游", "摄影", "跑步", "读书", "篮球", "Badminton", "Memasak", "围棋", "骑行", "音乐"}

var remarks = []string{"试用期", "外包", "实习生", "返聘", "Kontrak", "兼职"}

var personalDomains = []string{"mail.example.com", "example.cn", "example.co.id", "example.org", "example.net"}

// cnPrefixes are CN mobile prefixes (1[3-9]x); idPrefixes Indonesian ones
// (national number without the trunk 0).
var cnPrefixes = []string{"138", "139", "150", "186", "135", "137", "158", "188", "131", "155", "189", "136", "187", "152"}
var idPrefixes = []string{"812", "813", "821", "852", "811", "822"}
