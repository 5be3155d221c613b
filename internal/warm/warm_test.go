package warm
import (
 _ "github.com/xuri/excelize/v2"
 _ "github.com/nyaruka/phonenumbers"
 _ "filippo.io/age"
 _ "github.com/mozillazg/go-pinyin"
 _ "golang.org/x/text/encoding/simplifiedchinese"
 _ "golang.org/x/text/encoding/unicode"
 _ "gopkg.in/yaml.v3"
 _ "modernc.org/sqlite"
)
