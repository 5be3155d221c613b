package dingbook

// Problem names one kind of data problem the cleaner reports. The names
// are stable: they are used by --fail-on, the JSON report and the
// generator's truth.
type Problem string

// The problems, with their exact definitions. The generator injects each of
// them deliberately and records who has which; the cleaner must find
// exactly those.
const (
	// ProblemMissingMobile: mobile is empty and the mobile is not hidden
	// (a hidden mobile is ProblemHiddenMobile instead).
	ProblemMissingMobile Problem = "missing-mobile"
	// ProblemHiddenMobile: hide_mobile is true.
	ProblemHiddenMobile Problem = "hidden-mobile"
	// ProblemMissingEmail: both email and org_email are empty.
	ProblemMissingEmail Problem = "missing-email"
	// ProblemInvalidPhone: mobile is present but is not a valid number for
	// its state_code (or the default region) according to libphonenumber.
	ProblemInvalidPhone Problem = "invalid-phone"
	// ProblemInvalidEmail: email or org_email is present but is not a valid
	// address after trimming.
	ProblemInvalidEmail Problem = "invalid-email"
	// ProblemMissingTitle: title is empty after trimming.
	ProblemMissingTitle Problem = "missing-title"
	// ProblemMissingJobNumber: job_number is empty after trimming.
	ProblemMissingJobNumber Problem = "missing-job-number"
	// ProblemManagerNotFound: manager_userid is set but names nobody in the org.
	ProblemManagerNotFound Problem = "manager-not-found"
	// ProblemInactive: active is false (has not activated DingTalk).
	ProblemInactive Problem = "inactive"
	// ProblemDuplicateMobile: a different person (another userid) has the
	// same mobile once normalised to E.164.
	ProblemDuplicateMobile Problem = "duplicate-mobile"
	// ProblemDuplicateEmail: a different person has the same email or
	// org_email once normalised (trimmed, lower-cased).
	ProblemDuplicateEmail Problem = "duplicate-email"
	// ProblemDuplicateName: another person has the same name (trimmed) as a
	// direct member of the same department.
	ProblemDuplicateName Problem = "duplicate-name"
)

// AllProblems lists every problem in report order.
var AllProblems = []Problem{
	ProblemMissingMobile, ProblemHiddenMobile, ProblemMissingEmail, ProblemInvalidPhone,
	ProblemInvalidEmail, ProblemMissingTitle, ProblemMissingJobNumber, ProblemManagerNotFound,
	ProblemInactive, ProblemDuplicateMobile, ProblemDuplicateEmail, ProblemDuplicateName,
}
